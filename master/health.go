package master

import (
	"fmt"
	"time"

	"github.com/supervise-go/supervise/stats"
)

// Readiness is whether the pool should get traffic (/readyz): every active
// slot holds a ready worker that loaded the app, and no shutdown has
// begun. During a graceful reload the previous generation's worker counts
// for its slot until the new one is ready, so a reload never fails the
// probe; a reload whose new workers report no app (NOAPP=1) does.
func (m *Master) Readiness() stats.Readiness {
	if m.terminating || m.phase != running {
		return stats.Readiness{Reason: "shutting down: in-flight requests are draining"}
	}
	for _, s := range m.slots {
		if s.Cheap {
			continue
		}
		w := s.Current
		if w == nil || w.State != Ready {
			if old := m.servingOld(s.ID); old != nil {
				w = old
			}
		}
		switch {
		case w == nil && s.Failures > 0:
			return stats.Readiness{Reason: fmt.Sprintf("worker %d: no worker; it failed %d times in a row and is backing off (see the log)", s.ID, s.Failures)}
		case w == nil:
			return stats.Readiness{Reason: fmt.Sprintf("worker %d: not started yet", s.ID)}
		case w.State != Ready:
			return stats.Readiness{Reason: fmt.Sprintf("worker %d: pid %d is starting (loading the app)", s.ID, w.PID)}
		case w.NoApp:
			return stats.Readiness{Reason: fmt.Sprintf("worker %d: pid %d loaded no app: %s", s.ID, w.PID, w.Status)}
		}
	}
	return stats.Readiness{Ready: true, Reason: fmt.Sprintf("generation %d: all %d workers ready", m.generation, m.activeSlots())}
}

// terminate is SIGTERM: readiness fails at once; with shutdown-delay the
// workers keep serving that long (the time a load balancer or Kubernetes
// needs to stop sending new requests), then the graceful drain begins. A
// second SIGTERM during the delay starts the drain at once.
func (m *Master) terminate() {
	if m.phase != running || m.terminating || m.plan.ShutdownDelay <= 0 {
		m.shutdown(true)
		return
	}
	m.terminating = true
	m.drainAt = m.os.Now().Add(m.plan.ShutdownDelay)
	m.log.Info("SIGTERM: readiness now fails; serving on for shutdown-delay, then draining",
		"shutdown_delay", m.plan.ShutdownDelay, "mercy", m.plan.Mercy)
}

// drainWhenDelayed starts the graceful drain once shutdown-delay has passed.
func (m *Master) drainWhenDelayed(now time.Time) {
	if m.terminating && m.phase == running && !now.Before(m.drainAt) {
		m.shutdown(true)
	}
}
