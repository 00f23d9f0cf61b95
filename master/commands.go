package master

import (
	"syscall"
	"time"
)

// Command runs one letter of uWSGI's master FIFO protocol.
func (m *Master) Command(c byte) {
	switch c {
	case 'r':
		m.Reload()
	case 'R':
		m.reload(true, brutal)
	case 'c':
		m.reload(true, chain)
	case 'w':
		m.reload(false, graceful)
	case 'W':
		m.reload(false, brutal)
	case 'q':
		m.shutdown(true)
	case 'Q':
		m.shutdown(false)
	case 's':
		if m.hooks.StatsToLog != nil {
			m.hooks.StatsToLog(m.Snapshot())
		}
	case '+':
		m.fifoGrow()
	case '-':
		m.fifoShrink()
	case 'l':
		if m.hooks.ReopenLog != nil {
			m.hooks.ReopenLog()
		}
	case 'p':
		m.togglePause()
	case '\n', '\r', ' ', '\t':
	default:
		m.unknownCommand(c)
	}
}

// unknownCommand warns about a byte that is no command at most once a
// second, counting the rest: `cat somefile > fifo` must not write a log
// line per byte.
func (m *Master) unknownCommand(c byte) {
	now := m.os.Now()
	if !m.unknownWarned.IsZero() && now.Sub(m.unknownWarned) < time.Second {
		m.unknownQuiet++
		return
	}
	m.log.Warn("unknown master FIFO command; ignored", "command", string(c), "ignored_since_last_warning", m.unknownQuiet)
	m.unknownWarned, m.unknownQuiet = now, 0
}

// fifoGrow is FIFO '+': with cheaper, one more active worker (up to
// processes); without, one more process.
func (m *Master) fifoGrow() {
	if m.plan.Cheaper.Min <= 0 {
		m.Scale(len(m.slots) + 1)
		return
	}
	if !m.canDecheap() {
		m.log.Info("master FIFO +: every slot already runs a worker", "processes", len(m.slots))
		return
	}
	m.decheap(1, "master FIFO +")
}

// fifoShrink is FIFO '-': with cheaper, one fewer active worker (not
// below cheaper); without, one process fewer.
func (m *Master) fifoShrink() {
	if m.plan.Cheaper.Min <= 0 {
		m.Scale(len(m.slots) - 1)
		return
	}
	if m.activeSlots() <= m.plan.Cheaper.Min {
		m.log.Info("master FIFO -: the pool is already at cheaper", "cheaper", m.plan.Cheaper.Min)
		return
	}
	m.cheapOne("master FIFO -")
}

// togglePause freezes every worker (SIGSTOP) or lets them go on (SIGCONT).
// New connections wait in the listen queue meanwhile; requests in flight
// resume where they stopped.
func (m *Master) togglePause() {
	m.paused = !m.paused
	sig, what := syscall.SIGCONT, "resumed"
	if m.paused {
		sig, what = syscall.SIGSTOP, "paused: workers frozen; connections wait in the listen queue (p again resumes)"
	}
	for _, w := range m.workers {
		m.signal(w, sig)
	}
	m.log.Info("master FIFO p: " + what)
}

// resume undoes a pause before anything that needs workers to run.
func (m *Master) resume() {
	if m.paused {
		m.togglePause()
	}
}

type reloadMode int

const (
	graceful reloadMode = iota // new generation beside the old, each old worker stopped when its successor is ready
	chain                      // the same, one slot at a time: never more than one extra worker
	brutal                     // kill every worker, start the new generation
)
