package master

// harakiri kills a worker whose oldest running request has run longer
// than the harakiri option, and has it replaced at once. The request
// start times come from the scoreboard (CLOCK_MONOTONIC), so the check is
// per request and works for every thread of Python and Go workers.
func (m *Master) harakiri(w *Worker) {
	if m.plan.Harakiri <= 0 || m.board == nil || w.BoardSlot < 0 || w.Killed {
		return
	}
	age, request, ok := m.board.Oldest(w.BoardSlot)
	if !ok || age < m.plan.Harakiri {
		return
	}
	m.log.Warn("HARAKIRI: a request outran the harakiri limit; killing its worker",
		"id", w.ID, "pid", w.PID, "request", request, "running", age.Round(1e6), "harakiri", m.plan.Harakiri)
	w.Harakiri = true
	m.kill(w, "")
	if s := m.slot(w.ID); s != nil {
		s.Harakiris++
	}
}
