package master

import (
	"time"
)

// Reload re-reads the configuration and starts a new generation beside
// the old one. Each old worker is stopped only when the new worker of its
// slot reports READY and has served a request (or a second has passed:
// handoff.go), so the pool never has fewer ready workers than configured,
// and the listening sockets (owned by the master) never close.
func (m *Master) Reload() { m.reload(true, graceful) }

func (m *Master) reload(reread bool, mode reloadMode) {
	if m.phase != running || m.terminating {
		return
	}
	if m.hooks.ReopenLog != nil { // logrotate's postrotate kill -HUP: the log moves on even if the reload is refused
		m.hooks.ReopenLog()
	}
	plan := m.plan
	if reread && m.reread != nil {
		p, err := m.reread()
		if err != nil {
			m.log.Error("reload refused: the current workers keep serving", "error", err)
			if m.hooks.ReloadFailed != nil {
				m.hooks.ReloadFailed(m.announced, "refused: "+err.Error())
			}
			return
		}
		plan = p
	}
	m.resume()
	if m.hooks.Reloading != nil {
		m.hooks.Reloading()
	}
	if m.oldPlan == nil {
		m.oldPlan = m.plan
	}
	m.plan = plan
	m.generation++
	m.zygoteNext = zygoteRespawn{}
	m.log.Info([...]string{"graceful reload", "chain reload", "brutal reload"}[mode]+": starting a new generation",
		"generation", m.generation, "workers", plan.Processes)
	m.resize(plan.Processes, m.activeSlots())
	m.planDaemons()
	m.rollout = rollout{}
	for _, s := range m.slots {
		s.NextStart = time.Time{}
		s.Failures = 0
	}
	switch {
	case mode == chain:
		m.startRollout(1, true)
	case mode == graceful && plan.Zygote != nil && plan.ForkWidth > 0:
		m.startRollout(plan.ForkWidth, false) // rollout.go: the forks' page copies spread out
	default:
		for _, s := range m.slots {
			s.Current = nil // the old worker keeps serving until retireOlder
		}
	}
	if mode == brutal {
		m.oldPlan = nil // nothing to go back to
		for _, w := range m.workers {
			m.kill(w, "")
		}
	}
	m.advanceRollout(m.os.Now())
}

// retireOlder stops the workers a newly ready worker replaces.
func (m *Master) retireOlder(ready *worker) {
	for _, w := range m.workers {
		if m.replaces(ready, w) {
			m.stop(w, "replaced by a new worker")
		}
	}
}

// abortReload goes back to the last generation that was fully ready when
// a worker of the new one dies before it is ready: a failed reload never
// takes the site down.
// what says what failed in the log line, reason for Hooks.ReloadFailed.
func (m *Master) abortReload(what, reason string) {
	good := m.announced
	m.log.Error("reload failed: "+what+"; the previous generation keeps serving", "reason", reason,
		"failed_generation", m.generation, "serving_generation", good)
	m.plan, m.oldPlan = m.oldPlan, nil
	m.generation = good
	m.rollout = rollout{}
	m.zygoteNext = zygoteRespawn{}
	for _, z := range m.zygotes {
		if z.Generation > good {
			m.killZygote(z)
		}
	}
	m.resize(m.plan.Processes, m.activeSlots())
	m.planDaemons()
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
	if m.hooks.ReloadFailed != nil {
		m.hooks.ReloadFailed(good, reason)
	}
}
