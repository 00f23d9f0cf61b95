package master

// accepting tells the wiring a worker is ready to accept, for uWSGI's
// hook-accepting phases (first: the first worker ever started in its slot).
func (m *Master) accepting(w *worker) {
	if m.hooks.Accepting == nil {
		return
	}
	s := m.slot(w.ID)
	m.hooks.Accepting(w.ID, s != nil && s.Respawns == 1 && w.Generation == 1)
}

// Fail stops the master at once and makes it exit with code: a fatal
// hook failed (uWSGI: "FATAL hook failed, destroying instance").
func (m *Master) Fail(code int, reason string) {
	if m.phase == halting {
		return
	}
	m.log.Error("stopping the master: "+reason, "exit_code", code)
	m.exitCode = code
	m.shutdown(false)
}
