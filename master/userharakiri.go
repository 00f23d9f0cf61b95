package master

import "time"

// userHarakiriBoard is a Board that also reads uwsgi.set_user_harakiri
// deadlines (the real scoreboard does; test fakes need not).
type userHarakiriBoard interface {
	UserHarakiri(slot int) (over time.Duration, where string, expired bool)
}

// userHarakiri ends a worker whose app-set deadline (uwsgi.set_user_harakiri)
// has passed, as uWSGI's master does, whatever the harakiri option says.
func (m *Master) userHarakiri(w *worker, now time.Time) {
	b, ok := m.board.(userHarakiriBoard)
	if !ok || w.BoardSlot < 0 || w.Killed || w.Harakiri {
		return
	}
	over, where, expired := b.UserHarakiri(w.BoardSlot)
	if !expired {
		return
	}
	m.log.Warn("HARAKIRI: the app's own deadline passed (uwsgi.set_user_harakiri)",
		"id", w.ID, "pid", w.PID, "where", where, "over_by", over.Round(time.Millisecond))
	m.harakiriKill(w, now)
}
