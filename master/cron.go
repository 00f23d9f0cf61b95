package master

import (
	"syscall"
	"time"
)

// CronSpec is a command the master runs when the local time matches a
// schedule (uWSGI's cron, cron2, unique-cron). Name keeps a job's state
// across reloads, so a reload never runs it twice in one minute.
type CronSpec struct {
	Name string
	// Due reports whether the schedule matches t's minute.
	Due func(t time.Time) bool
	// Unique: not started while the previous run is still going.
	Unique bool
	// Harakiri kills a run (its process group) older than this; 0: never.
	Harakiri time.Duration
	// Spec is the process; it should start a new session (Setsid) so
	// harakiri and shutdown reach what the command started.
	Spec func() (*ProcSpec, error)
}

// cronJob is a CronSpec's state; only the loop touches it.
type cronJob struct {
	CronSpec
	lastMinute time.Time         // the minute it last ran in
	running    map[int]time.Time // pid -> started
	killed     map[int]bool
	stopAt     map[int]time.Time // shutdown: SIGTERM sent, SIGKILL at this time
	removed    bool              // no longer configured: dropped once its runs end
}

// planCrons follows the plan's crons by name.
func (m *Master) planCrons() {
	want := map[string]CronSpec{}
	for _, c := range m.plan.Crons {
		want[c.Name] = c
	}
	for _, j := range m.crons {
		if spec, ok := want[j.Name]; ok {
			j.CronSpec, j.removed = spec, false
			delete(want, j.Name)
			continue
		}
		j.removed = true
	}
	for _, c := range m.plan.Crons {
		if _, ok := want[c.Name]; ok {
			m.crons = append(m.crons, &cronJob{CronSpec: c, running: map[int]time.Time{}, killed: map[int]bool{}, stopAt: map[int]time.Time{}})
		}
	}
}

// manageCrons starts the jobs due in this minute, kills runs past their
// harakiri, and stops every run once the master is shutting down.
func (m *Master) manageCrons(now time.Time) {
	kept := m.crons[:0]
	for _, j := range m.crons {
		m.murderCron(j, now)
		if m.phase == running && !j.removed {
			m.runCron(j, now)
		}
		if !j.removed || len(j.running) > 0 {
			kept = append(kept, j)
		}
	}
	m.crons = kept
}

func (m *Master) runCron(j *cronJob, now time.Time) {
	minute := now.Truncate(time.Minute)
	if minute.Equal(j.lastMinute) || !j.Due(now) {
		return
	}
	j.lastMinute = minute
	if j.Unique && len(j.running) > 0 {
		m.log.Info("cron: still running, not started again (unique)", "cron", j.Name)
		return
	}
	spec, err := j.Spec()
	var pid int
	if err == nil {
		pid, err = m.os.Start(spec)
	}
	if err != nil {
		m.log.Error("cron: cannot start the command", "cron", j.Name, "error", err)
		return
	}
	j.running[pid] = now
	m.log.Info("cron: running", "cron", j.Name, "pid", pid)
}

func (m *Master) murderCron(j *cronJob, now time.Time) {
	for pid, started := range j.running {
		if j.killed[pid] {
			continue
		}
		switch {
		case j.Harakiri > 0 && now.Sub(started) >= j.Harakiri:
			m.log.Warn("HARAKIRI ON CRON: killing its process group", "cron", j.Name, "pid", pid, "harakiri", j.Harakiri)
			m.killCron(j, pid)
		case m.phase != running && j.stopAt[pid].IsZero():
			j.stopAt[pid] = now.Add(m.plan.Mercy)
			m.log.Info("cron: stopping the command for shutdown", "cron", j.Name, "pid", pid)
			m.os.Signal(-pid, syscall.SIGTERM)
		case !j.stopAt[pid].IsZero() && !now.Before(j.stopAt[pid]):
			m.log.Warn("cron: the command did not stop within worker-reload-mercy; killing it", "cron", j.Name, "pid", pid)
			m.killCron(j, pid)
		}
	}
}

func (m *Master) killCron(j *cronJob, pid int) {
	j.killed[pid] = true
	m.os.Signal(-pid, syscall.SIGKILL)
}

// cronExited handles a reaped pid if it is a cron run's.
func (m *Master) cronExited(e Exit) bool {
	for _, j := range m.crons {
		started, ok := j.running[e.PID]
		if !ok {
			continue
		}
		delete(j.running, e.PID)
		delete(j.killed, e.PID)
		delete(j.stopAt, e.PID)
		m.log.Info("cron: command exited", "cron", j.Name, "pid", e.PID, "status", e.describe(),
			"after", m.os.Now().Sub(started).Round(time.Millisecond))
		return true
	}
	return false
}

// cronWake is the earliest time the crons need the loop: the next
// minute, a harakiri or a shutdown deadline.
func (m *Master) cronWake(next time.Time) time.Time {
	if len(m.crons) == 0 {
		return next
	}
	now := m.os.Now()
	if t := now.Truncate(time.Minute).Add(time.Minute); m.phase == running && t.Before(next) {
		next = t
	}
	for _, j := range m.crons {
		for pid, started := range j.running {
			if j.killed[pid] {
				continue
			}
			if t := started.Add(j.Harakiri); j.Harakiri > 0 && t.Before(next) {
				next = t
			}
			if t := j.stopAt[pid]; !t.IsZero() && t.Before(next) {
				next = t
			}
		}
	}
	return next
}

func (m *Master) cronsRunning() bool {
	for _, j := range m.crons {
		if len(j.running) > 0 {
			return true
		}
	}
	return false
}
