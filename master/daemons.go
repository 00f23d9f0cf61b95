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

	// attach-daemon2 and smart daemons; zero values are attach-daemon's.
	StopSignal   syscall.Signal // 0: SIGTERM
	ReloadSignal syscall.Signal // sent on reload (the daemon keeps running); 0: none
	Group        bool           // signals go to its process group (Spec starts a session)
	Control      bool           // its death stops the master gracefully
	Touched      func() bool    // checked once a second: true restarts it
	// Pidfile makes a smart daemon: it returns the live pid the pidfile
	// names, or 0. A smart daemon is started only when there is none, is
	// started again when that process is gone, and is left running on
	// reloads and shutdown (signalled then only with NotifyPid).
	Pidfile func() int
	// Foreground: the smart daemon's command stays in the foreground (the
	// wiring writes its pidfile); otherwise it daemonizes and the pidfile
	// must name a live process within Freq checks after its start.
	Foreground bool
	Freq       int
	NotifyPid  bool
	// Started is told each new pid (smart-attach-daemon2 writes its pidfile).
	Started func(pid int) error
}

func (d *DaemonSpec) stopSignal() syscall.Signal {
	if d.StopSignal == 0 {
		return syscall.SIGTERM
	}
	return d.StopSignal
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
	restarting   bool // touched: stopped to be started again at once

	// smart daemons (master/smartdaemon.go)
	smartPID  int       // the live process its pidfile names
	awaiting  bool      // it daemonized: waiting for its pidfile
	checks    int       // pidfile checks while awaiting
	lastCheck time.Time // once a second
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
			d.DaemonSpec = spec
			delete(want, d.Name)
			m.daemonReloading(d)
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
	if d.Pidfile != nil {
		m.leaveSmartDaemon(d, why)
		return
	}
	if d.pid == 0 {
		return
	}
	m.log.Info("stopping daemon", "daemon", d.Name, "pid", d.pid, "reason", why)
	d.stopDeadline = m.os.Now().Add(m.plan.Mercy)
	m.signalDaemon(d, d.pid, d.stopSignal())
}

// signalDaemon signals a daemon's process, or its group.
func (m *Master) signalDaemon(d *daemon, pid int, sig syscall.Signal) {
	target := pid
	if d.Group {
		target = -pid
	}
	if err := m.os.Signal(target, sig); err != nil && err != syscall.ESRCH {
		m.log.Error("cannot signal daemon", "daemon", d.Name, "pid", pid, "error", err)
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
		if d.restarting {
			d.restarting, d.nextStart = false, now
			m.log.Info("daemon stopped; starting it again (touched)", "daemon", d.Name, "status", e.describe())
			return true
		}
		if d.Control && m.phase == running {
			m.log.Warn("a control daemon exited: stopping the master", "daemon", d.Name, "pid", e.PID, "status", e.describe())
			m.shutdown(true)
			return true
		}
		if d.smartPID == e.PID {
			d.smartPID = 0 // a foreground smart daemon: restarted with backoff below
		}
		if d.Pidfile != nil && !d.Foreground {
			m.smartLauncherExited(d, e)
			return true
		}
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
		case !d.stopping && d.pid == 0 && d.smartPID == 0 && !d.awaiting && m.phase == running && !now.Before(d.nextStart):
			m.startDaemon(d, now)
		case !d.stopping && m.phase == running && now.Sub(d.lastCheck) >= time.Second:
			d.lastCheck = now
			m.checkDaemon(d, now)
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
	if d.Pidfile != nil && m.adoptSmartDaemon(d) {
		return
	}
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
	if d.Started != nil {
		if err := d.Started(d.pid); err != nil {
			m.log.Error("daemon started, but its pidfile could not be written", "daemon", d.Name, "pid", d.pid, "error", err)
		}
	}
}

// daemonWake is the earliest time a daemon needs the loop.
func (m *Master) daemonWake(next time.Time) time.Time {
	earlier := func(t time.Time) {
		if t.Before(next) {
			next = t
		}
	}
	for _, d := range m.daemons {
		switch {
		case d.stopping && d.pid != 0 && !d.killed:
			earlier(d.stopDeadline)
		case !d.stopping && d.pid == 0 && d.smartPID == 0 && !d.awaiting:
			earlier(d.nextStart)
		}
		if !d.stopping && (d.Pidfile != nil || d.Touched != nil) {
			earlier(d.lastCheck.Add(time.Second))
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
		if d.pid != 0 && !d.stopping && d.Pidfile == nil { // a smart daemon is found again by its pidfile
			out = append(out, AdoptedDaemon{Name: d.Name, PID: d.pid})
		}
	}
	return out
}
