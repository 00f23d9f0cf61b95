package master

import "time"

// Reload starts a new generation beside the old one. Each old worker is
// stopped only when the new worker of its slot reports READY, so the pool
// never has fewer ready workers than configured, and the listening sockets
// (owned by the master) never close.
func (m *Master) Reload() {
	if m.phase != running {
		return
	}
	plan := m.plan
	if m.reload != nil {
		p, err := m.reload()
		if err != nil {
			m.log.Error("reload refused: the current workers keep serving", "error", err)
			return
		}
		plan = p
	}
	if m.hooks.Reloading != nil {
		m.hooks.Reloading()
	}
	if m.oldPlan == nil {
		m.oldPlan = m.plan
	}
	m.plan = plan
	m.generation++
	m.log.Info("graceful reload: starting a new generation", "generation", m.generation, "workers", plan.Processes)
	m.resize(plan.Processes)
	for _, s := range m.slots {
		s.Current = nil // the old worker keeps serving until retireOlder
		s.NextStart = time.Time{}
		s.Failures = 0
	}
}

// retireOlder stops the workers a newly ready worker replaces.
func (m *Master) retireOlder(ready *Worker) {
	for _, w := range m.workers {
		if w.ID == ready.ID && w.Generation < ready.Generation && w.State != Stopping {
			m.stop(w, "replaced by a new generation")
		}
	}
}

// abortReload goes back to the last generation that was fully ready when
// a worker of the new one dies before it is ready: a failed reload never
// takes the site down.
func (m *Master) abortReload(failed *Worker) {
	good := m.announced
	m.log.Error("reload failed: a new worker died before it was ready; the previous generation keeps serving",
		"id", failed.ID, "pid", failed.PID, "failed_generation", failed.Generation, "serving_generation", good)
	m.plan, m.oldPlan = m.oldPlan, nil
	m.generation = good
	m.resize(m.plan.Processes)
	for _, s := range m.slots {
		s.Current = nil
	}
	for _, w := range m.workers {
		if w.Generation > good {
			m.kill(w, "")
			continue
		}
		if s := m.slot(w.ID); s != nil && w.State != Stopping {
			s.Current = w
		}
	}
}
