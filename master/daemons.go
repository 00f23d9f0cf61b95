package master

import (
	"syscall"
	"time"
)

// DaemonSpec is one extra process the master runs beside the workers and
// restarts when it exits: attach-daemon commands and the HTTP front end.
// Name identifies it across reloads: a daemon whose name is still in the
// new plan keeps running.
type DaemonSpec struct {
	Name string
	Spec func() (*ProcSpec, error)
}

// daemon is a DaemonSpec's running state; only the loop touches it.
type daemon struct {
	DaemonSpec
	pid          int
	started      time.Time
	nextStart    time.Time
	failures     int
	stopping     bool // removed from the plan, or shutdown: not restarted
	killed       bool
	stopDeadline time.Time
}

// planDaemons makes the daemon list follow the plan: new names start,
// names no longer there are stopped, the others keep running.
func (m *Master) planDaemons() {
	want := map[string]DaemonSpec{}
	for _, d := range m.plan.Daemons {
		want[d.Name] = d
	}
	for _, d := range m.daemons {
		if spec, ok := want[d.Name]; ok && !d.stopping {
			d.Spec = spec.Spec
			delete(want, d.Name)
			continue
		}
		m.stopDaemon(d, "no longer in the configuration")
	}
	for _, spec := range m.plan.Daemons {
		if _, ok := want[spec.Name]; ok {
			m.daemons = append(m.daemons, &daemon{DaemonSpec: spec})
		}
	}
	m.planCrons()
}

func (m *Master) stopDaemon(d *daemon, why string) {
	if d.stopping {
		return
	}
	d.stopping = true
	if d.pid == 0 {
		return
	}
	m.log.Info("stopping daemon", "daemon", d.Name, "pid", d.pid, "reason", why)
	d.stopDeadline = m.os.Now().Add(m.plan.Mercy)
	if err := m.os.Signal(d.pid, syscall.SIGTERM); err != nil && err != syscall.ESRCH {
		m.log.Error("cannot signal daemon", "daemon", d.Name, "pid", d.pid, "error", err)
	}
}

// daemonExited handles a reaped pid if it is a daemon's.
func (m *Master) daemonExited(e Exit) bool {
	for i, d := range m.daemons {
		if d.pid != e.PID {
			continue
		}
		d.pid = 0
		if d.stopping {
			m.log.Info("daemon stopped", "daemon", d.Name, "status", e.describe())
			m.daemons = append(m.daemons[:i], m.daemons[i+1:]...)
			return true
		}
		now := m.os.Now()
		if now.Sub(d.started) >= healthyAge {
			d.failures = 0
		}
		d.failures++
		delay := backoffDelay(d.failures)
		d.nextStart = now.Add(delay)
		m.log.Warn("daemon exited; restarting it", "daemon", d.Name, "pid", e.PID, "status", e.describe(), "restart_in", delay)
		return true
	}
	return m.cronExited(e)
}

// manageDaemons starts daemons that are not running and murders stopping
// ones that outran worker-reload-mercy.
func (m *Master) manageDaemons(now time.Time) {
	for _, d := range m.daemons {
		switch {
		case d.stopping && d.pid != 0 && !d.killed && !now.Before(d.stopDeadline):
			d.killed = true
			m.log.Warn("killing daemon: it did not stop within worker-reload-mercy", "daemon", d.Name, "pid", d.pid)
			m.os.Signal(d.pid, syscall.SIGKILL)
		case !d.stopping && d.pid == 0 && m.phase == running && !now.Before(d.nextStart):
			m.startDaemon(d, now)
		}
	}
	kept := m.daemons[:0]
	for _, d := range m.daemons {
		if !d.stopping || d.pid != 0 {
			kept = append(kept, d)
		}
	}
	m.daemons = kept
	m.manageCrons(now) // commands the master runs beside the workers, as daemons are
}

func (m *Master) startDaemon(d *daemon, now time.Time) {
	spec, err := d.Spec()
	if err == nil {
		d.pid, err = m.os.Start(spec)
	}
	if err != nil {
		d.failures++
		delay := max(backoffDelay(d.failures), backoffFirst)
		d.nextStart = now.Add(delay)
		m.log.Error("cannot start daemon", "daemon", d.Name, "error", err, "retry_in", delay)
		return
	}
	d.started = now
	m.log.Info("started daemon", "daemon", d.Name, "pid", d.pid)
}

// daemonWake is the earliest time a daemon needs the loop.
func (m *Master) daemonWake(next time.Time) time.Time {
	for _, d := range m.daemons {
		t := d.nextStart
		if d.stopping {
			t = d.stopDeadline
		}
		if (d.pid == 0 && !d.stopping) || (d.stopping && d.pid != 0 && !d.killed) {
			if t.Before(next) {
				next = t
			}
		}
	}
	return m.cronWake(next)
}

func (m *Master) daemonsRunning() bool {
	for _, d := range m.daemons {
		if d.pid != 0 {
			return true
		}
	}
	return m.cronsRunning()
}

func (m *Master) adoptDaemons(adopted []AdoptedDaemon) {
	byName := map[string]int{}
	for _, a := range adopted {
		byName[a.Name] = a.PID
	}
	now := m.os.Now()
	for _, d := range m.daemons {
		if pid, ok := byName[d.Name]; ok {
			d.pid, d.started = pid, now
			delete(byName, d.Name)
		}
	}
	for name, pid := range byName {
		d := &daemon{DaemonSpec: DaemonSpec{Name: name}, pid: pid, started: now}
		m.daemons = append(m.daemons, d)
		m.stopDaemon(d, "no longer in the configuration")
	}
}

func (m *Master) daemonState() []AdoptedDaemon {
	var out []AdoptedDaemon
	for _, d := range m.daemons {
		if d.pid != 0 && !d.stopping {
			out = append(out, AdoptedDaemon{Name: d.Name, PID: d.pid})
		}
	}
	return out
}
