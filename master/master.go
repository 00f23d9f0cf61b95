// Package master is the supervisor's loop: one goroutine owns every
// worker and runs gunicorn's arbiter steps after each event: reap ->
// murder -> manage. It gets a Plan, an OS seam (start, signal, reap,
// clock) and hooks, and never imports the configuration: package
// supervisor wires a config into plans, sockets and processes.
package master

import (
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/stats"
)

// Plan is what the loop needs from the configuration: how many workers,
// how to start one, and how long a graceful stop may take.
type Plan struct {
	Processes int
	Mercy     time.Duration // worker-reload-mercy: SIGTERM, then SIGKILL after this
	NeedApp   bool          // a worker exiting 22 at first start ends the master
	// ReadyTimeout takes a worker that never sends READY=1 as ready after
	// this long (programs that know nothing of the notify socket); 0 waits.
	ReadyTimeout time.Duration
	// Harakiri kills a worker whose oldest running request is older; 0 is off.
	Harakiri time.Duration
	// HarakiriGrace, when set, sends HarakiriSignal first and kills only
	// if the worker is still there this much later.
	HarakiriGrace  time.Duration
	HarakiriSignal syscall.Signal
	// MaxRequests retires a worker gracefully after that many requests
	// (plus MaxRequestsDelta x its id); 0 is off.
	MaxRequests, MaxRequestsDelta int
	// ReloadOnRSS retires a worker gracefully, EvilReloadOnRSS kills it,
	// once its resident memory passes this many bytes; 0 is off.
	ReloadOnRSS, EvilReloadOnRSS uint64
	// MinLifetime: no worker younger than this is recycled for requests
	// or memory (min-worker-lifetime).
	MinLifetime time.Duration
	// Cheaper, when Cheaper.Min > 0, runs fewer workers than Processes
	// while the pool is idle.
	Cheaper CheaperPlan
	// Daemons run beside the workers (attach-daemon, the HTTP front end).
	Daemons []DaemonSpec
	// Crons are commands run on a schedule (master/cron.go).
	Crons []CronSpec
	// ShutdownDelay keeps serving this long after SIGTERM, with readiness
	// already failing, before the graceful drain (shutdown-delay).
	ShutdownDelay time.Duration
	Spec          func(w SpawnInfo) (*ProcSpec, error)
	// Zygote, when set, starts the generation's zygote: workers are then
	// forked from it (SpawnInfo.Zygote) instead of loading the app each.
	Zygote func(z ZygoteInfo) (*ProcSpec, Forker, error)
	// ForkWidth, when > 0, makes a preloading graceful reload (and an
	// upgrade) fork its workers this many at a time, the next once an
	// earlier one has handed off (rollout.go); 0 forks them all at once.
	ForkWidth int
	Chdir     string // for stats
}

// SpawnInfo is what a new worker is told about itself.
type SpawnInfo struct {
	ID, Generation int
	BoardSlot      int // its scoreboard slot, -1 for none
	// Reloading: it belongs to a reload's new generation, which must load
	// its app or fail (the old generation then keeps serving).
	Reloading bool
	// Zygote is the generation's ready zygote to fork the worker from;
	// nil: start it with exec.
	Zygote Forker
}

// Board hands out scoreboard slots, one per live worker process.
type Board interface {
	Acquire() int // -1 when none is free
	Release(slot int)
	Take(slot int) // mark a slot in use: an adopted worker's
	// Oldest is the age of the slot's longest-running request and what
	// it is ("GET /path"); ok is false when none runs.
	Oldest(slot int) (age time.Duration, request string, ok bool)
	// Requests is how many requests the slot's worker has served.
	Requests(slot int) uint64
	// RunningTime is the total time the slot's worker spent in finished
	// requests, summed over its threads, and Cores how many threads it has.
	RunningTime(slot int) time.Duration
	Cores() int
	// Check reports what in the slot its worker (pid) cannot have written
	// honestly; nil when it is plausible. The scoreboard is shared memory
	// every worker can write, so the master checks before it trusts.
	Check(slot, pid int) error
	// CheckHeader reports (and repairs) an overwritten header.
	CheckHeader() error
}

type phase int

const (
	running  phase = iota
	draining       // graceful shutdown: workers finish in-flight requests
	halting        // immediate shutdown: workers killed
)

// Hooks let the caller react to milestones without touching worker state.
type Hooks struct {
	Ready     func(generation int) // every slot has a ready worker of this generation
	Reloading func()
	// ReloadFailed: the reload did not happen (refused, or its new
	// generation failed); generation serving keeps serving.
	ReloadFailed func(serving int, reason string)
	Stopping     func()
	// StatsToLog runs on SIGUSR1 with a snapshot; it must not block the loop.
	StatsToLog func([]stats.WorkerInfo)
	// ReopenLog reopens the log file (master FIFO 'l', SIGIO, and before
	// every reload: logrotate's postrotate sends SIGHUP).
	ReopenLog func()
	// Upgrade re-executes the master with the workers' and daemons'
	// state (SIGUSR2); it returns only if that failed.
	Upgrade func(Handover)
	// Accepting runs when a worker is ready (hook-accepting...); first:
	// its slot's first worker. It may call Fail.
	Accepting func(id int, first bool)
}

// Master owns the pool. Create it with New and drive it with Run, or with
// step in unit tests.
type Master struct {
	log     hclog.Logger
	os      OS
	plan    *Plan
	reread  func() (*Plan, error)
	hooks   Hooks
	slots   []*slot
	workers map[int]*worker // by pid, every live child we started
	zygotes map[int]*zygote // by pid: the current generation's, and older ones until stopped

	zygoteNext zygoteRespawn

	generation int
	phase      phase
	exitCode   int
	// headerWarned: the scoreboard header was found overwritten (logged once).
	headerWarned bool
	announced    int     // the last generation reported through Hooks.Ready
	oldPlan      *Plan   // while a reload is in progress: the plan to go back to
	rollout      rollout // a chain or staggered reload: slots still to replace (rollout.go)
	paused       bool    // FIFO p: workers are SIGSTOPped
	board        Board
	cheap        cheaperState
	daemons      []*daemon
	crons        []*cronJob
	// terminating: SIGTERM arrived and readiness fails; the drain starts
	// at drainAt (shutdown-delay later).
	terminating bool
	drainAt     time.Time

	unknownWarned time.Time // the last "unknown master FIFO command" warning
	unknownQuiet  int       // unknown bytes ignored since then without a line
}

// SetBoard gives the master a scoreboard to hand out slots from.
func (m *Master) SetBoard(b Board) { m.board = b }

// New makes a master for plan. reload re-reads the configuration; nil
// means reloads restart the same plan.
func New(log hclog.Logger, osi OS, plan *Plan, reload func() (*Plan, error), hooks Hooks) *Master {
	m := &Master{log: log, os: osi, plan: plan, reread: reload, hooks: hooks,
		workers: map[int]*worker{}, zygotes: map[int]*zygote{}, generation: 1}
	m.resize(plan.Processes, plan.initialWorkers())
	m.planDaemons()
	return m
}

// finished reports whether the master has finished, and its exit code.
func (m *Master) finished() (bool, int) {
	return m.phase != running && len(m.workers) == 0 && len(m.zygotes) == 0 && !m.daemonsRunning(), m.exitCode
}

// liveWorkers returns a snapshot of the live workers, for stats and tests.
func (m *Master) liveWorkers() []worker {
	out := make([]worker, 0, len(m.workers))
	for _, w := range m.workers {
		out = append(out, *w)
	}
	return out
}

// slotCopies returns a snapshot of the slots.
func (m *Master) slotCopies() []slot {
	out := make([]slot, len(m.slots))
	for i, s := range m.slots {
		out[i] = *s
	}
	return out
}

// Serving is the newest generation announced ready (Hooks.Ready): the
// one serving.
func (m *Master) Serving() int { return m.announced }

// resize makes the pool n slots, active of them not cheap (see
// fitCheaper; without cheaper every slot is active).
func (m *Master) resize(n, active int) {
	defer m.fitCheaper(active)
	for len(m.slots) < n {
		m.slots = append(m.slots, &slot{ID: len(m.slots) + 1})
	}
	for len(m.slots) > n {
		last := m.slots[len(m.slots)-1]
		if last.Current != nil {
			m.stop(last.Current, "the pool shrank")
		}
		m.slots = m.slots[:len(m.slots)-1]
	}
}

func (m *Master) slot(id int) *slot {
	if id < 1 || id > len(m.slots) {
		return nil
	}
	return m.slots[id-1]
}

// stop asks a worker to finish its requests and exit; murder kills it once
// its mercy runs out.
func (m *Master) stop(w *worker, why string) {
	if w.State == Stopping {
		return
	}
	m.resume()
	w.State = Stopping
	w.StopDeadline = m.os.Now().Add(m.plan.Mercy)
	w.StopLimit = "worker-reload-mercy"
	m.log.Info("stopping worker", "id", w.ID, "pid", w.PID, "generation", w.Generation, "reason", why)
	m.signal(w, syscall.SIGTERM)
}

func (m *Master) kill(w *worker, why string) {
	if w.Killed {
		return
	}
	w.Killed = true
	w.State = Stopping
	if why != "" {
		m.log.Warn("killing worker", "id", w.ID, "pid", w.PID, "reason", why)
	}
	m.signal(w, syscall.SIGKILL)
}

func (m *Master) signal(w *worker, sig syscall.Signal) {
	if err := m.os.Signal(w.PID, sig); err != nil && err != syscall.ESRCH {
		m.log.Error("cannot signal worker", "id", w.ID, "pid", w.PID, "signal", signalName(sig), "error", err)
	}
}
