package master

import "time"

// checkBoard treats the scoreboard as untrusted input. A worker whose slot
// holds what no honest worker writes (another pid, a flag not 0 or 1, a
// vars length past the area, a request starting in the future) is logged
// once and replaced: it is killed, and manage starts a new worker in its
// place at once. A bad header is logged and rewritten (no reader uses it,
// but new workers check it before they map the scoreboard).
func (m *Master) checkBoard(now time.Time) {
	if m.board == nil {
		return
	}
	if err := m.board.CheckHeader(); err != nil && !m.headerWarned {
		m.headerWarned = true
		m.log.Error("scoreboard header overwritten (a worker wrote outside its slot); rewritten", "problem", err)
	}
	for _, w := range m.workers {
		if w.BoardSlot < 0 || w.Killed || w.Tampered {
			continue
		}
		err := m.board.Check(w.BoardSlot, w.PID)
		if err == nil {
			continue
		}
		w.Tampered = true
		m.log.Error("worker corrupted its scoreboard slot; killing and replacing it",
			"id", w.ID, "pid", w.PID, "problem", err)
		if s := m.slot(w.ID); s != nil {
			m.vacate(s, w, now)
		}
		m.kill(w, "") // the line above says why
	}
}
