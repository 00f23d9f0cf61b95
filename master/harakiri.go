package master

import "time"

// harakiri ends a worker whose oldest running request has run longer than
// the harakiri option. The request start times come from the scoreboard
// (CLOCK_MONOTONIC), so the check is per request and works for every
// thread of Python and Go workers. A replacement starts at once: the hung
// worker is not serving, and its start was not what failed.
//
// With harakiri-graceful-timeout the worker first gets
// harakiri-graceful-signal (SIGTERM by default: it stops accepting and
// exits when the request ends) and is killed only if it is still there
// when the timeout runs out.
func (m *Master) harakiri(w *worker, now time.Time) {
	if m.plan.Harakiri <= 0 || m.board == nil || w.BoardSlot < 0 || w.Killed {
		return
	}
	age, request, ok := m.board.Oldest(w.BoardSlot)
	if !ok || age < m.plan.Harakiri {
		return
	}
	if w.Harakiri { // already signalled: the graceful timeout decides
		return
	}
	m.log.Warn("HARAKIRI: a request outran the harakiri limit",
		"id", w.ID, "pid", w.PID, "request", request, "running", age.Round(time.Millisecond), "harakiri", m.plan.Harakiri)
	m.harakiriKill(w, now)
}

// harakiriKill replaces w now and kills it, or with harakiri-graceful-timeout
// signals it first.
func (m *Master) harakiriKill(w *worker, now time.Time) {
	w.Harakiri = true
	if s := m.slot(w.ID); s != nil {
		s.Harakiris++
		m.vacate(s, w, now)
	}
	if m.plan.HarakiriGrace <= 0 || w.State == Stopping {
		m.kill(w, "harakiri")
		return
	}
	m.log.Warn("harakiri: signalling the worker first; it is killed if still running after harakiri-graceful-timeout",
		"id", w.ID, "pid", w.PID, "signal", signalName(m.plan.HarakiriSignal), "timeout", m.plan.HarakiriGrace)
	w.State = Stopping
	w.StopDeadline = now.Add(m.plan.HarakiriGrace)
	w.StopLimit = "harakiri-graceful-timeout"
	m.signal(w, m.plan.HarakiriSignal)
}

// vacate takes w out of its slot so manage starts a replacement now.
func (m *Master) vacate(s *slot, w *worker, now time.Time) {
	if s.Current == w && m.phase == running {
		s.Current = nil
		s.NextStart = now
	}
}
