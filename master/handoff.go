package master

import "time"

// A new worker's first request is its slowest: forked from the zygote, it
// copies every shared page the request writes (the seed app's first
// request copies 350-560 pages: 8-14 ms on an idle 2-core VM, 60-190 ms
// under load), and a lazy worker fills its caches. If the worker it
// replaces stopped at its READY=1, a graceful reload would leave only
// cold workers for a moment, and every request of that moment would wait.
// So the worker a new one replaces (a reload's, or a recycled one) keeps
// serving until the new one has finished a request, as the scoreboard
// shows, or warmHandoff has passed.
const (
	warmHandoff = time.Second
	warmPoll    = 10 * time.Millisecond // the scoreboard's check while a hand-off waits
)

// handOffWhenWarm retires what ready replaces now, or once it is warm
// when the scoreboard can tell.
func (m *Master) handOffWhenWarm(ready *worker) {
	if m.board == nil || ready.BoardSlot < 0 || !m.replacesOne(ready) {
		m.retireOlder(ready)
		return
	}
	ready.HandOffBy = m.os.Now().Add(warmHandoff)
}

// handOff finishes a waiting hand-off: the new worker served a request,
// or its time is up. A new worker that stopped or died hands nothing off.
func (m *Master) handOff(w *worker, now time.Time) {
	if w.HandOffBy.IsZero() {
		return
	}
	if w.State != Ready {
		w.HandOffBy = time.Time{}
		return
	}
	if m.servedRequests(w) || !now.Before(w.HandOffBy) {
		w.HandOffBy = time.Time{}
		m.retireOlder(w)
	}
}

// replacesOne reports whether a live worker that serves the app is one
// ready replaces. One that loaded no app answers every request 500 (and
// fails readiness): it goes at once.
func (m *Master) replacesOne(ready *worker) bool {
	for _, w := range m.workers {
		if m.replaces(ready, w) && !w.NoApp {
			return true
		}
	}
	return false
}

// replaces is true when ready takes the place of w.
func (m *Master) replaces(ready, w *worker) bool {
	return w.ID == ready.ID && w != ready && w.State != Stopping && (w.Generation < ready.Generation || w.Retiring)
}

// handOffWake is the next time a waiting hand-off needs the loop.
func (m *Master) handOffWake(now, next time.Time) time.Time {
	for _, w := range m.workers {
		if !w.HandOffBy.IsZero() && now.Add(warmPoll).Before(next) {
			return now.Add(warmPoll)
		}
	}
	return next
}
