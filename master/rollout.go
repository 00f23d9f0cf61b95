package master

import "time"

// A rollout replaces a reload's slots a few at a time instead of all at
// once. Two kinds:
//
//   - chain (FIFO c, uWSGI's chain reload): one slot at a time; the next
//     starts once the old worker of the last one has exited, so there is
//     never more than one extra worker.
//   - a preloading graceful reload (and an upgrade), Plan.ForkWidth slots
//     at a time; the next starts once a new worker has handed off. A
//     forked worker's start and first request copy the shared pages they
//     write (~1,150 minor faults for the seed app, ~28 us each on a
//     paravirtualized VM: docs/benchmarks.md, session 11). Forked all
//     at once, those copies land in one burst on cores the load already
//     fills (on a loaded 2-core VM that burst set the reload's p99); one
//     after another they spread over the reload.
type rollout struct {
	slots     []int // still to replace, in order
	width     int   // how many at once
	untilGone bool  // chain: a slot's turn ends when its old worker has exited
}

// staggerStep ends a staggered slot's turn this long after its new
// worker's READY=1 even if it has not handed off yet: an idle pool sends
// the new worker nothing to serve, and there is no load to spread.
const staggerStep = 200 * time.Millisecond

// startRollout queues every slot for the new generation: width at a
// time, each turn ending when the old worker has gone (untilGone: chain)
// or when the new one has handed off.
func (m *Master) startRollout(width int, untilGone bool) {
	m.rollout = rollout{width: width, untilGone: untilGone}
	for _, s := range m.slots {
		m.rollout.slots = append(m.rollout.slots, s.ID)
	}
}

// rolling reports whether a rollout still has slots to replace.
func (m *Master) rolling() bool { return len(m.rollout.slots) > 0 }

// advanceRollout drops the slots whose turn is over and starts the turns
// of the next ones, up to the rollout's width. A slot's turn starts by
// emptying it (its old worker keeps serving until the new one hands off:
// handoff.go); manage then fills it.
func (m *Master) advanceRollout(now time.Time) {
	r := &m.rollout
	for i, busy := 0, 0; i < len(r.slots) && busy < r.width; {
		s := m.slot(r.slots[i])
		if s == nil || s.Cheap || m.turnOver(s, now) {
			r.slots = append(r.slots[:i], r.slots[i+1:]...)
			continue
		}
		if s.Current != nil && s.Current.Generation < m.generation {
			s.Current = nil
			s.NextStart = now
		}
		busy++
		i++
	}
}

// turnOver reports whether slot s holds a ready worker of the new
// generation that no longer needs the rollout to wait for it.
func (m *Master) turnOver(s *slot, now time.Time) bool {
	w := s.Current
	if w == nil || w.Generation != m.generation || w.State != Ready {
		return false
	}
	if m.rollout.untilGone {
		return !m.olderAlive(s.ID)
	}
	// While HandOffBy is set the loop polls every warmPoll (handoff.go).
	return w.HandOffBy.IsZero() || now.Sub(w.ReadyAt) >= staggerStep
}

// olderAlive reports whether a worker of an older generation still runs
// in slot id.
func (m *Master) olderAlive(id int) bool {
	for _, w := range m.workers {
		if w.ID == id && w.Generation < m.generation {
			return true
		}
	}
	return false
}
