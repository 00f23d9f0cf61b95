package master

import (
	"syscall"
	"time"
)

// Smart daemons (smart-attach-daemon, attach-daemon2 with pidfile=) are
// found through their pidfile and outlive reloads and the master, as in
// uWSGI; touch= and reloadsignal= apply to every attach-daemon2.

// adoptSmartDaemon takes the live process the pidfile names instead of
// starting one; false when there is none.
func (m *Master) adoptSmartDaemon(d *daemon) bool {
	pid := d.Pidfile()
	if pid <= 0 {
		return false
	}
	d.smartPID, d.awaiting, d.checks = pid, false, 0
	m.log.Info("daemon found running (its pidfile names a live process); not starting another", "daemon", d.Name, "pid", pid)
	return true
}

// smartLauncherExited: a daemonizing command's first process exited;
// the daemon it left must appear in the pidfile within Freq checks.
func (m *Master) smartLauncherExited(d *daemon, e Exit) {
	d.awaiting, d.checks = true, 0
	if !e.Status.Exited() || e.Status.ExitStatus() != 0 {
		m.log.Warn("daemon's command failed", "daemon", d.Name, "pid", e.PID, "status", e.describe())
		return
	}
	m.log.Info("daemon's command daemonized; watching its pidfile", "daemon", d.Name, "pid", e.PID)
}

// checkDaemon runs once a second: touch= and the pidfile.
func (m *Master) checkDaemon(d *daemon, now time.Time) {
	if d.Touched != nil && d.Touched() {
		m.log.Info("daemon's touch file changed: restarting it", "daemon", d.Name)
		switch {
		case d.Pidfile != nil && d.smartPID != 0:
			m.signalDaemon(d, d.smartPID, d.stopSignal()) // the pidfile check starts it again
		case d.pid != 0:
			d.restarting = true
			m.signalDaemon(d, d.pid, d.stopSignal())
		}
	}
	if d.Pidfile == nil {
		return
	}
	live := d.Pidfile()
	switch {
	case live > 0:
		if live != d.smartPID {
			m.log.Info("daemon's pidfile names a live process", "daemon", d.Name, "pid", live)
		}
		d.smartPID, d.awaiting, d.checks = live, false, 0
	case d.smartPID != 0:
		m.log.Warn("daemon is gone (its pidfile names no live process); starting it again", "daemon", d.Name, "pid", d.smartPID)
		d.smartPID = 0
		d.nextStart = now
	case d.awaiting:
		d.checks++
		if d.checks >= max(d.Freq, 1) {
			d.awaiting = false
			d.failures++
			delay := backoffDelay(d.failures)
			d.nextStart = now.Add(delay)
			m.log.Warn("daemon did not write a live pid to its pidfile; starting it again", "daemon", d.Name, "checks", d.checks, "restart_in", delay)
		}
	}
}

// daemonReloading: a daemon kept across a reload gets its reload signal.
func (m *Master) daemonReloading(d *daemon) {
	switch {
	case d.Pidfile != nil && d.NotifyPid && d.smartPID != 0:
		sig := d.ReloadSignal
		if sig == 0 {
			sig = syscall.SIGHUP
		}
		m.signalDaemon(d, d.smartPID, sig)
	case d.Pidfile == nil && d.ReloadSignal != 0 && d.pid != 0:
		m.log.Info("reload: signalling daemon", "daemon", d.Name, "pid", d.pid, "signal", signalName(d.ReloadSignal))
		m.signalDaemon(d, d.pid, d.ReloadSignal)
	}
}

// leaveSmartDaemon stops watching a smart daemon and leaves it running
// (NotifyPid: it gets its stop signal).
func (m *Master) leaveSmartDaemon(d *daemon, why string) {
	pid := d.smartPID
	if pid == 0 {
		pid = d.pid
	}
	if d.NotifyPid && pid != 0 {
		m.signalDaemon(d, pid, d.stopSignal())
	}
	if pid != 0 {
		m.log.Info("leaving smart daemon running", "daemon", d.Name, "pid", pid, "reason", why, "notified", d.NotifyPid)
	}
	d.pid, d.smartPID, d.awaiting = 0, 0, false
}
