package master

import (
	"fmt"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// Forker asks a zygote (a process that imported the app once) for a new
// worker: it forks, and the worker becomes the master's child (the master
// is a child subreaper and the zygote double-forks), so the master reaps,
// signals and supervises it as one it started with exec.
type Forker interface {
	// Fork starts a worker from spec's environment and log pipe; Path,
	// Args, Files, Dir and Credential are the zygote's already.
	Fork(spec *ProcSpec) (pid int, err error)
	// ForkAll starts several workers in one request, so the zygote forks
	// them back to back: each pid or error, in specs' order.
	ForkAll(specs []*ProcSpec) (pids []int, errs []error)
	// Close drops the connection to the zygote (it died or was stopped).
	Close()
}

// ZygoteInfo is what a new zygote is told about itself.
type ZygoteInfo struct {
	Generation int
	// Reloading: its generation is a reload's, whose app must load (the
	// zygote exits 22 otherwise and the reload fails).
	Reloading bool
}

// zygote is one generation's zygote process. Only the loop touches it.
type zygote struct {
	PID        int
	Generation int
	Forker     Forker
	Ready      bool // READY=1: the app is imported, forks are answered
	Started    time.Time
	Stopping   bool
	Killed     bool
	Deadline   time.Time // Stopping: SIGKILL then
}

// zygoteRespawn is the restart bookkeeping of the current generation's
// zygote, which outlives each process.
type zygoteRespawn struct {
	Failures  int
	NextStart time.Time
}

// preloads is true when workers of the current plan fork from a zygote.
func (m *Master) preloads() bool { return m.plan.Zygote != nil }

// currentZygote is the current generation's zygote when it is ready to
// fork; ok is false when workers must wait (it is starting or backing
// off). It starts one when none runs.
func (m *Master) currentZygote(now time.Time) (Forker, bool) {
	for _, z := range m.zygotes {
		if z.Generation == m.generation && !z.Stopping {
			return z.Forker, z.Ready
		}
	}
	if now.Before(m.zygoteNext.NextStart) {
		return nil, false
	}
	m.startZygote(now)
	return nil, false
}

func (m *Master) startZygote(now time.Time) {
	spec, forker, err := m.plan.Zygote(ZygoteInfo{Generation: m.generation, Reloading: m.oldPlan != nil})
	var pid int
	if err == nil {
		pid, err = m.os.Start(spec)
		if err != nil {
			forker.Close()
		}
	}
	if err != nil {
		m.zygoteNext.Failures++
		delay := max(backoffDelay(m.zygoteNext.Failures), backoffFirst)
		m.zygoteNext.NextStart = now.Add(delay)
		m.log.Error("cannot start the zygote", "generation", m.generation, "error", err, "retry_in", delay)
		return
	}
	m.zygotes[pid] = &zygote{PID: pid, Generation: m.generation, Forker: forker, Started: now}
	m.log.Info("started the zygote: it imports the app once, then forks the workers", "pid", pid, "generation", m.generation)
}

// zygoteNotified handles a notify datagram from a zygote; false when pid
// is no zygote.
func (m *Master) zygoteNotified(n ipc.Notification) bool {
	z := m.zygotes[n.PID]
	if z == nil {
		return false
	}
	if n.Fields["READY"] == "1" && !z.Ready {
		z.Ready = true
		m.log.Info("zygote ready: the app is imported", "pid", z.PID, "generation", z.Generation,
			"startup", m.os.Now().Sub(z.Started).Round(time.Millisecond))
	}
	return true
}

// zygoteExited handles the exit of a zygote; false when pid is no zygote.
// A zygote that dies takes no worker with it: its workers are the
// master's children. The current generation's is rebuilt; one that could
// not import the app fails its reload, or under need-app the first start.
func (m *Master) zygoteExited(e Exit) bool {
	z := m.zygotes[e.PID]
	if z == nil {
		return false
	}
	delete(m.zygotes, e.PID)
	z.Forker.Close()
	if z.Stopping || m.phase != running {
		m.log.Info("zygote stopped", "pid", z.PID, "generation", z.Generation, "status", e.describe())
		return true
	}
	m.log.Warn("zygote died", "pid", z.PID, "generation", z.Generation, "status", e.describe(),
		"age", m.os.Now().Sub(z.Started).Round(time.Millisecond))
	if z.Generation != m.generation {
		return true
	}
	appFailed := e.Status.Exited() && e.Status.ExitStatus() == ipc.ExitAppLoadFailed
	if !z.Ready && m.oldPlan != nil {
		m.abortReload("the new zygote exited before it was ready (it could not import the app?)",
			fmt.Sprintf("the zygote of generation %d exited before it was ready (%s)", z.Generation, e.describe()))
		return true
	}
	if appFailed && m.plan.NeedApp && m.announced == 0 {
		m.log.Error("the app failed to load and need-app is set: GAME OVER", "zygote", z.PID)
		m.exitCode = ipc.ExitAppLoadFailed
		m.shutdown(false)
		return true
	}
	now := m.os.Now()
	if z.Ready && (now.Sub(z.Started) >= healthyAge || killedFromOutside(e)) {
		m.zygoteNext.Failures = 0
	}
	m.zygoteNext.Failures++
	delay := backoffDelay(m.zygoteNext.Failures)
	m.zygoteNext.NextStart = now.Add(delay)
	m.log.Warn("rebuilding the zygote; the running workers keep serving", "generation", z.Generation, "start_in", delay)
	return true
}

// stopZygote ends a zygote gracefully (it holds no request: SIGTERM ends it).
func (m *Master) stopZygote(z *zygote, why string) {
	if z.Stopping {
		return
	}
	z.Stopping = true
	z.Deadline = m.os.Now().Add(m.plan.Mercy)
	m.log.Info("stopping the zygote", "pid", z.PID, "generation", z.Generation, "reason", why)
	if err := m.os.Signal(z.PID, syscall.SIGTERM); err != nil && err != syscall.ESRCH {
		m.log.Error("cannot signal the zygote", "pid", z.PID, "error", err)
	}
}

func (m *Master) killZygote(z *zygote) {
	if z.Killed {
		return
	}
	z.Stopping, z.Killed = true, true
	m.os.Signal(z.PID, syscall.SIGKILL)
}

// stopZygotesExcept stops every zygote of another generation than keep
// (0: all of them).
func (m *Master) stopZygotesExcept(keep int, why string) {
	for _, z := range m.zygotes {
		if z.Generation != keep {
			m.stopZygote(z, why)
		}
	}
}

// murderZygotes kills stopping zygotes past their deadline.
func (m *Master) murderZygotes(now time.Time) {
	for _, z := range m.zygotes {
		if z.Stopping && !z.Killed && !now.Before(z.Deadline) {
			m.log.Warn("killing the zygote: it did not stop", "pid", z.PID)
			m.killZygote(z)
		}
	}
}

// zygoteWake is the next time a zygote needs the loop.
func (m *Master) zygoteWake(next time.Time) time.Time {
	for _, z := range m.zygotes {
		if z.Stopping && !z.Killed && z.Deadline.Before(next) {
			next = z.Deadline
		}
	}
	// The next zygote's start time matters only while the generation has
	// none: it stays in the past once one started, and as a wake-up it
	// would spin the loop every millisecond.
	if m.phase == running && m.preloads() && !m.hasZygote() && m.zygoteNext.NextStart.Before(next) {
		next = m.zygoteNext.NextStart
	}
	return next
}

// hasZygote says whether the current generation's zygote is running.
func (m *Master) hasZygote() bool {
	for _, z := range m.zygotes {
		if z.Generation == m.generation && !z.Stopping {
			return true
		}
	}
	return false
}
