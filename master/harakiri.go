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

// maxRequests retires a worker that has served its max-requests: a
// replacement starts in its slot and the worker is stopped gracefully
// once the replacement is ready, so no request fails and the pool never
// shrinks (memory leaks in long-lived workers are the usual reason).
func (m *Master) maxRequests(w *Worker) {
	if m.plan.MaxRequests <= 0 || m.board == nil || w.BoardSlot < 0 || w.State != Ready || w.Retiring || m.phase != running {
		return
	}
	limit := uint64(m.plan.MaxRequests + w.ID*m.plan.MaxRequestsDelta)
	if m.board.Requests(w.BoardSlot) < limit {
		return
	}
	s := m.slot(w.ID)
	if s == nil || s.Current != w {
		return
	}
	m.log.Info("worker served max-requests; replacing it", "id", w.ID, "pid", w.PID, "max_requests", limit)
	w.Retiring = true
	s.Current = nil // manage starts the replacement now
	s.NextStart = m.os.Now()
}
