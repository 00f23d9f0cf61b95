package supervisor

import "time"

// UserHarakiri is the master's view of uwsgi.set_user_harakiri in slot:
// how long ago its deadline passed, when it has and still applies.
func (b *boardSlots) UserHarakiri(slot int) (over time.Duration, where string, expired bool) {
	o, where, ok := b.board.UserHarakiri(slot, b.clock.Now())
	return time.Duration(o), where, ok
}
