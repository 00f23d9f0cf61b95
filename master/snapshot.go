package master

import "github.com/supervise-go/supervise/stats"

// Snapshot describes every slot for the stats server: the slot's current
// worker or, while a reload replaces it, the old one still serving.
func (m *Master) Snapshot() []stats.WorkerInfo {
	out := make([]stats.WorkerInfo, 0, len(m.slots))
	for _, s := range m.slots {
		info := stats.WorkerInfo{ID: s.ID, Slot: -1, LastSpawn: s.LastSpawn, Respawns: s.Respawns, Chdir: m.plan.Chdir, HarakiriCount: s.Harakiris, Cheap: s.Cheap}
		w := s.Current
		if w == nil || w.State != Ready {
			if old := m.servingOld(s.ID); old != nil {
				w = old
			}
		}
		if w != nil {
			info.PID, info.Slot, info.Ready = w.PID, w.BoardSlot, w.State == Ready
			info.Paused = m.paused
			info.NoApp = w.NoApp
		}
		out = append(out, info)
	}
	return out
}

func (m *Master) servingOld(id int) *worker {
	var best *worker
	for _, w := range m.workers {
		if w.ID == id && w.State == Ready && (best == nil || w.Generation > best.Generation) {
			best = w
		}
	}
	return best
}

func (m *Master) releaseBoard(slot int) {
	if m.board != nil && slot >= 0 {
		m.board.Release(slot)
	}
}
