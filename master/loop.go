package master

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// event is one thing that woke the loop. Exactly one field is set, or
// none for a timer tick.
type event struct {
	Signal os.Signal
	Note   *ipc.Notification
}

// step handles one event and then runs the arbiter's steps. It is the only
// code that changes worker state.
func (m *Master) step(ev event) {
	switch {
	case ev.Signal != nil:
		m.handleSignal(ev.Signal)
	case ev.Note != nil:
		m.handleNotify(*ev.Note)
	}
	m.reap()
	m.murder()
	m.manage()
	m.manageDaemons(m.os.Now())
	m.drainWhenDelayed(m.os.Now())
}

// nextWake is how long the loop may sleep before a deadline needs it.
func (m *Master) nextWake() time.Duration {
	now := m.os.Now()
	next := now.Add(time.Second)
	for _, w := range m.workers {
		if w.State == Stopping && !w.Killed && w.StopDeadline.Before(next) {
			next = w.StopDeadline
		}
		if w.State == Starting && m.plan.ReadyTimeout > 0 && w.Started.Add(m.plan.ReadyTimeout).Before(next) {
			next = w.Started.Add(m.plan.ReadyTimeout)
		}
	}
	next = m.handOffWake(now, next)
	next = m.daemonWake(next)
	next = m.zygoteWake(next)
	if m.terminating && m.phase == running && m.drainAt.Before(next) {
		next = m.drainAt
	}
	if m.phase == running {
		for _, s := range m.slots {
			if s.Current == nil && !s.Cheap && s.NextStart.Before(next) {
				next = s.NextStart
			}
		}
	}
	return max(next.Sub(now), time.Millisecond)
}

func (m *Master) handleSignal(sig os.Signal) {
	switch sig {
	case syscall.SIGTERM:
		m.terminate()
	case syscall.SIGINT, syscall.SIGQUIT:
		m.shutdown(false)
	case syscall.SIGHUP:
		m.Reload()
	case syscall.SIGTTIN:
		m.Scale(len(m.slots) + 1)
	case syscall.SIGTTOU:
		m.Scale(len(m.slots) - 1)
	case syscall.SIGIO: // supervise's own: reopen the log without a reload
		if m.hooks.ReopenLog != nil {
			m.hooks.ReopenLog()
		}
	case syscall.SIGUSR1:
		if m.hooks.StatsToLog != nil {
			m.hooks.StatsToLog(m.Snapshot())
		}
	case syscall.SIGUSR2:
		if m.hooks.Upgrade != nil && m.phase == running {
			m.stopZygotesExcept(0, "upgrade: the next master builds its own") // else it would outlive its master's memory of it
			m.hooks.Upgrade(m.handover())
		}
	}
}

func (m *Master) handleNotify(n ipc.Notification) {
	if m.zygoteNotified(n) {
		return
	}
	w := m.workers[n.PID]
	if w == nil {
		return
	}
	if n.Fields["READY"] == "1" && (w.State == Starting || w.State == Ready) {
		// A worker slower than ready-timeout was taken as ready; its
		// READY=1 still says whether it loaded an app.
		if n.NoApp() && !w.NoApp {
			w.NoApp, w.Status = true, n.Fields["STATUS"]
			m.log.Warn("worker started without an app; readiness fails until a reload loads one",
				"id", w.ID, "pid", w.PID, "status", w.Status)
		}
		if w.State == Starting {
			m.markReady(w)
		}
	}
	if why := n.Fields[ipc.NotifyReload]; why != "" && w.State == Ready && m.oldPlan == nil && w.Generation == m.generation {
		m.log.Info("a worker asked for a reload", "id", w.ID, "pid", w.PID, "reason", why)
		m.Reload()
	}
	if c := n.Fields[ipc.NotifyCommand]; len(c) == 1 && strings.Contains(ipc.WorkerCommands, c) {
		// A reload asked for by a worker that a reload is replacing, or
		// during one, would start another: only stop is taken then. A
		// respawned worker serves before its READY=1 reaches the loop, so
		// Starting alone is not a reload.
		if c != "q" && (w.State == Stopping || m.oldPlan != nil || w.Generation != m.generation) {
			m.log.Info("the app asked the master for a reload during a reload; ignored", "id", w.ID, "pid", w.PID, "command", c)
			return
		}
		m.log.Info("the app asked the master (uwsgi module)", "id", w.ID, "pid", w.PID, "command", c)
		m.Command(c[0])
	}
}

func (m *Master) markReady(w *worker) {
	w.State = Ready
	w.ReadyAt = m.os.Now()
	m.log.Debug("worker ready", "id", w.ID, "pid", w.PID, "generation", w.Generation,
		"startup", w.ReadyAt.Sub(w.Started).Round(time.Millisecond))
	m.handOffWhenWarm(w)
	m.accepting(w)
}

// shutdown stops every worker: gracefully (finish in-flight requests within
// worker-reload-mercy) or at once.
func (m *Master) shutdown(graceful bool) {
	if m.phase == halting || (m.phase == draining && graceful) {
		return
	}
	if m.hooks.Stopping != nil && m.phase == running {
		m.hooks.Stopping()
	}
	if graceful {
		m.phase = draining
		m.log.Info("graceful shutdown: waiting for workers to finish their requests", "mercy", m.plan.Mercy)
		for _, w := range m.workers {
			m.stop(w, "shutdown")
		}
		for _, d := range m.daemons {
			m.stopDaemon(d, "shutdown")
		}
		m.stopZygotesExcept(0, "shutdown")
		return
	}
	m.phase = halting
	m.log.Info("immediate shutdown: killing workers")
	for _, w := range m.workers {
		m.kill(w, "")
	}
	for _, z := range m.zygotes {
		m.killZygote(z)
	}
	for _, d := range m.daemons {
		m.stopDaemon(d, "shutdown")
		if d.pid != 0 {
			d.killed = true
			m.os.Signal(d.pid, syscall.SIGKILL)
		}
	}
}

// Scale changes the number of workers (SIGTTIN/SIGTTOU, `supervise scale`).
func (m *Master) Scale(n int) {
	if n < 1 || m.phase != running {
		return
	}
	m.log.Info("scaling the pool", "from", len(m.slots), "to", n)
	m.plan.Processes = n
	m.resize(n, m.activeSlots())
}

// reap collects exited children and decides what each exit means.
func (m *Master) reap() {
	for _, e := range m.os.Reap() {
		w := m.workers[e.PID]
		if w == nil {
			if !m.zygoteExited(e) {
				m.daemonExited(e) // or an orphan we inherited as PID 1
			}
			continue
		}
		delete(m.workers, e.PID)
		m.releaseBoard(w.BoardSlot)
		m.onExit(w, e)
	}
}

func (m *Master) onExit(w *worker, e Exit) {
	s := m.slot(w.ID)
	current := s != nil && s.Current == w
	if current {
		s.Current = nil
	}
	if w.State == Stopping && !w.Harakiri {
		m.log.Info("worker stopped", "id", w.ID, "pid", w.PID, "status", e.describe())
		return
	}
	if w.Harakiri {
		if current && m.phase == running {
			s.NextStart = m.os.Now() // its request hung, not its start: no backoff
		}
		return
	}
	m.log.Warn("worker died", "id", w.ID, "pid", w.PID, "generation", w.Generation,
		"status", e.describe(), "age", m.os.Now().Sub(w.Started).Round(time.Millisecond))
	if m.phase != running || !current {
		return
	}
	if m.oldPlan != nil && w.State == Starting && w.Generation == m.generation {
		m.abortReload("a new worker died before it was ready",
			fmt.Sprintf("worker %d of generation %d died before it was ready", w.ID, w.Generation))
		return
	}
	appFailed := e.Status.Exited() && e.Status.ExitStatus() == ipc.ExitAppLoadFailed
	if appFailed && m.plan.NeedApp && m.announced == 0 {
		m.log.Error("the app failed to load and need-app is set: GAME OVER", "id", w.ID, "pid", w.PID)
		m.exitCode = ipc.ExitAppLoadFailed
		m.shutdown(false)
		return
	}
	m.scheduleRespawn(s, w, e)
}

// killedFromOutside is a death by SIGKILL, which no crash of the app's
// own produces: the OOM killer, an operator's kill -9. A ready worker
// killed so did not fail to start, however young.
func killedFromOutside(e Exit) bool {
	return e.Status.Signaled() && e.Status.Signal() == syscall.SIGKILL
}

func (m *Master) scheduleRespawn(s *slot, w *worker, e Exit) {
	now := m.os.Now()
	if w.State == Ready && (now.Sub(w.Started) >= healthyAge || m.servedRequests(w) || killedFromOutside(e)) {
		s.Failures = 0
	}
	s.Failures++
	delay := backoffDelay(s.Failures)
	s.NextStart = now.Add(delay)
	if delay > 0 {
		m.log.Warn("worker keeps failing; backing off", "id", s.ID, "failures", s.Failures, "next_start_in", delay)
	}
}

// servedRequests is true when the scoreboard shows w finished a request:
// the app works, so its death (OOM killer, an operator's kill -9) is no
// failed start, however young it was. Its slot is released but not yet
// cleared when onExit runs.
func (m *Master) servedRequests(w *worker) bool {
	return m.board != nil && w.BoardSlot >= 0 && m.board.Requests(w.BoardSlot) > 0
}

// murder kills workers whose graceful stop outran worker-reload-mercy,
// and takes silent workers as ready once ready-timeout has passed.
func (m *Master) murder() {
	now := m.os.Now()
	m.checkBoard(now)
	m.murderZygotes(now)
	for _, w := range m.workers {
		if w.State == Stopping && !w.Killed && !now.Before(w.StopDeadline) {
			m.kill(w, "did not stop within "+w.StopLimit)
		}
		m.harakiri(w, now)
		m.userHarakiri(w, now)
		m.recycle(w, now)
		m.handOff(w, now)
		if w.State == Starting && m.plan.ReadyTimeout > 0 && now.Sub(w.Started) >= m.plan.ReadyTimeout {
			m.log.Info("worker never sent READY=1; taking it as ready", "id", w.ID, "pid", w.PID, "ready_timeout", m.plan.ReadyTimeout)
			m.markReady(w)
		}
	}
}

// manage fills empty slots whose backoff has passed.
func (m *Master) manage() {
	if m.phase != running {
		return
	}
	now := m.os.Now()
	m.advanceRollout(now)
	m.cheaper(now)
	var zygote Forker
	if m.preloads() { // kept running, so a respawn is a fork away
		var ready bool
		if zygote, ready = m.currentZygote(now); !ready {
			m.announceReady()
			return // its READY=1 wakes the loop
		}
	}
	var due []*slot
	for _, s := range m.slots {
		if s.Current == nil && !s.Cheap && !now.Before(s.NextStart) {
			due = append(due, s)
		}
	}
	m.spawnAll(due, zygote) // from a zygote: one fork request for all of them
	m.announceReady()
}

// spawnAll starts a worker in each of due's slots: forked from zygote in
// one request (the zygote forks them back to back), or, without one, each
// with exec.
func (m *Master) spawnAll(due []*slot, zygote Forker) {
	var specs []*ProcSpec
	var slots []*slot
	var boards []int
	for _, s := range due {
		board := -1
		if m.board != nil {
			board = m.board.Acquire()
		}
		spec, err := m.plan.Spec(SpawnInfo{ID: s.ID, Generation: m.generation, BoardSlot: board, Reloading: m.oldPlan != nil, Zygote: zygote})
		if err != nil {
			m.spawnFailed(s, board, err)
			continue
		}
		specs, slots, boards = append(specs, spec), append(slots, s), append(boards, board)
	}
	if len(specs) == 0 {
		return
	}
	began := m.os.Now()
	pids, errs := m.startAll(specs)
	now := m.os.Now()
	if len(specs) > 1 && zygote != nil {
		m.log.Info("forked workers from the zygote in one request", "workers", len(specs), "took", now.Sub(began).Round(time.Microsecond))
	}
	for i, s := range slots {
		if errs[i] != nil {
			m.spawnFailed(s, boards[i], errs[i])
			continue
		}
		w := &worker{ID: s.ID, PID: pids[i], Generation: m.generation, State: Starting, Started: now, BoardSlot: boards[i]}
		m.workers[pids[i]] = w
		s.Current = w
		s.Respawns++
		s.LastSpawn = now
		m.log.Info("spawned worker", "id", s.ID, "pid", pids[i], "generation", m.generation)
	}
}

// startAll starts specs: in one call when they fork from a zygote and the
// OS can (StartAll), else one by one.
func (m *Master) startAll(specs []*ProcSpec) ([]int, []error) {
	if len(specs) > 1 && specs[0].Fork != nil && m.os.StartAll != nil {
		return m.os.StartAll(specs)
	}
	pids, errs := make([]int, len(specs)), make([]error, len(specs))
	for i, spec := range specs {
		pids[i], errs[i] = m.os.Start(spec)
	}
	return pids, errs
}

func (m *Master) spawnFailed(s *slot, board int, err error) {
	m.releaseBoard(board)
	s.Failures++
	delay := max(backoffDelay(s.Failures), backoffFirst)
	s.NextStart = m.os.Now().Add(delay)
	m.log.Error("cannot start worker", "id", s.ID, "error", err, "retry_in", delay)
}

// announceReady fires Hooks.Ready once per generation, when every slot
// holds a ready worker of it.
func (m *Master) announceReady() {
	if m.announced == m.generation || len(m.slots) == 0 {
		return
	}
	for _, s := range m.slots {
		if s.Cheap {
			continue
		}
		if s.Current == nil || s.Current.State != Ready || s.Current.Generation != m.generation {
			return
		}
	}
	m.announced = m.generation
	m.oldPlan = nil
	m.stopZygotesExcept(m.generation, "its generation was replaced")
	m.log.Info("all workers ready", "generation", m.generation, "workers", m.activeSlots())
	if m.hooks.Ready != nil {
		m.hooks.Ready(m.generation)
	}
}

// Run drives the loop from real channels until the master is done, and
// returns the process exit code. calls run functions on the loop's
// goroutine (stats snapshots, control commands).
func (m *Master) Run(sigs <-chan os.Signal, notes <-chan ipc.Notification, calls <-chan func()) int {
	m.step(event{})
	timer := time.NewTimer(m.nextWake())
	defer timer.Stop()
	for {
		if done, code := m.finished(); done {
			return code
		}
		select {
		case s := <-sigs:
			m.step(event{Signal: s})
		case n := <-notes:
			m.step(event{Note: &n})
		case call := <-calls:
			call()
			m.step(event{})
		case <-timer.C:
			m.step(event{})
		}
		timer.Reset(m.nextWake())
	}
}
