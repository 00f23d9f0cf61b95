package master

import (
	"syscall"
	"testing"
	"time"
)

// cronPlan: one worker and a cron job due in every minute divisible by every.
func cronPlan(every int, unique bool, harakiri time.Duration) *Plan {
	p := testPlan(1)
	p.Crons = []CronSpec{{Name: "job", Unique: unique, Harakiri: harakiri,
		Due:  func(t time.Time) bool { return t.Minute()%every == 0 },
		Spec: func() (*ProcSpec, error) { return &ProcSpec{Path: "/bin/sh", Setsid: true}, nil }}}
	return p
}

func cronPIDs(m *Master) []int {
	var out []int
	for _, j := range m.crons {
		for pid := range j.running {
			out = append(out, pid)
		}
	}
	return out
}

func TestCronRunsOncePerMatchingMinute(t *testing.T) {
	f := newFake()
	f.now = time.Date(2026, 11, 30, 7, 0, 10, 0, time.Local)
	m := newTestMaster(f, cronPlan(2, false, 0), nil, Hooks{})
	m.step(event{})
	if got := cronPIDs(m); len(got) != 1 {
		t.Fatalf("at 07:00 (due) %d runs, want 1", len(got))
	}
	first := cronPIDs(m)[0]
	f.now = f.now.Add(30 * time.Second) // 07:00:40: same minute
	m.step(event{})
	if len(cronPIDs(m)) != 1 {
		t.Fatal("started twice in one minute")
	}
	if d := m.nextWake(); d > 20*time.Second {
		t.Fatalf("the loop sleeps %v past the next minute", d)
	}
	f.now = time.Date(2026, 11, 30, 7, 1, 0, 0, time.Local) // not due
	m.step(event{})
	if len(cronPIDs(m)) != 1 {
		t.Fatal("started in a minute that does not match")
	}
	f.now = time.Date(2026, 11, 30, 7, 2, 0, 0, time.Local) // due, the first still runs: a plain cron starts anyway
	m.step(event{})
	if len(cronPIDs(m)) != 2 {
		t.Fatalf("%d runs at 07:02, want 2 (cron is not unique)", len(cronPIDs(m)))
	}
	f.exit(first, 0)
	m.step(event{})
	if len(cronPIDs(m)) != 1 {
		t.Fatal("an exited run is still counted")
	}
}

func TestUniqueCronIsNotStartedWhileRunning(t *testing.T) {
	f := newFake()
	f.now = time.Date(2026, 11, 30, 7, 0, 0, 0, time.Local)
	m := newTestMaster(f, cronPlan(1, true, 0), nil, Hooks{})
	m.step(event{})
	pid := cronPIDs(m)[0]
	f.now = f.now.Add(time.Minute)
	m.step(event{})
	if got := cronPIDs(m); len(got) != 1 || got[0] != pid {
		t.Fatalf("unique cron runs %v, want only %d", got, pid)
	}
	f.exit(pid, 0)
	f.now = f.now.Add(time.Minute)
	m.step(event{})
	if got := cronPIDs(m); len(got) != 1 || got[0] == pid {
		t.Fatalf("unique cron not started again after its run ended: %v", got)
	}
}

func TestCronHarakiriKillsTheProcessGroup(t *testing.T) {
	f := newFake()
	f.now = time.Date(2026, 11, 30, 7, 0, 0, 0, time.Local)
	m := newTestMaster(f, cronPlan(60, false, 10*time.Second), nil, Hooks{})
	m.step(event{})
	pid := cronPIDs(m)[0]
	if d := m.nextWake(); d > 10*time.Second {
		t.Fatalf("sleeps %v past the harakiri", d)
	}
	f.now = f.now.Add(9 * time.Second)
	m.step(event{})
	if len(f.signals[-pid]) != 0 {
		t.Fatal("killed before its harakiri")
	}
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if got := f.signals[-pid]; len(got) != 1 || got[0] != syscall.SIGKILL {
		t.Fatalf("process group got %v, want SIGKILL", got)
	}
	f.killed(pid)
	m.step(event{})
	if len(cronPIDs(m)) != 0 {
		t.Fatal("a killed run is still counted")
	}
}

func TestShutdownStopsCronRunsAndWaitsForThem(t *testing.T) {
	f := newFake()
	f.now = time.Date(2026, 11, 30, 7, 0, 0, 0, time.Local)
	m := newTestMaster(f, cronPlan(1, false, 0), nil, Hooks{})
	m.step(event{})
	readyAll(m)
	pid := cronPIDs(m)[0]
	m.shutdown(true)
	m.step(event{})
	if got := f.signals[-pid]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("cron group got %v on shutdown, want SIGTERM", got)
	}
	for _, w := range m.liveWorkers() {
		f.exit(w.PID, 0)
	}
	f.now = f.now.Add(time.Minute) // due again, but shutting down
	m.step(event{})
	if done, _ := m.finished(); done {
		t.Fatal("finished with a cron command still running")
	}
	if len(cronPIDs(m)) != 1 {
		t.Fatal("a cron started during shutdown")
	}
	f.exit(pid, 0)
	m.step(event{})
	if done, _ := m.finished(); !done {
		t.Fatal("not finished once the cron command exited")
	}
}

func TestReloadKeepsCronStateByName(t *testing.T) {
	f := newFake()
	f.now = time.Date(2026, 11, 30, 7, 0, 0, 0, time.Local)
	next := cronPlan(1, false, 0)
	m := newTestMaster(f, cronPlan(1, false, 0), func() (*Plan, error) { return next, nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	m.Reload()
	m.step(event{})
	if n := len(cronPIDs(m)); n != 1 {
		t.Fatalf("%d runs after a reload in the same minute, want 1", n)
	}
}
