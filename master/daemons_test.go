package master

import (
	"syscall"
	"testing"
	"time"
)

func daemonPlan(names ...string) *Plan {
	p := testPlan(1)
	for _, n := range names {
		p.Daemons = append(p.Daemons, DaemonSpec{Name: n, Spec: func() (*ProcSpec, error) { return &ProcSpec{Path: "/bin/sh"}, nil }})
	}
	return p
}

func daemonPID(m *Master, name string) int {
	for _, d := range m.daemons {
		if d.Name == name && !d.stopping {
			return d.pid
		}
	}
	return 0
}

func TestDaemonRestartsWithBackoffAndFollowsReloads(t *testing.T) {
	f := newFake()
	next := daemonPlan("keep", "new")
	m := newTestMaster(f, daemonPlan("keep", "drop"), func() (*Plan, error) { return next, nil }, Hooks{})
	m.step(event{})
	keep, drop := daemonPID(m, "keep"), daemonPID(m, "drop")
	if keep == 0 || drop == 0 || len(f.started) != 3 {
		t.Fatalf("daemons keep=%d drop=%d, started %d: want both started with the worker", keep, drop, len(f.started))
	}
	f.exit(keep, 1)
	m.step(event{})
	if keep = daemonPID(m, "keep"); keep == 0 {
		t.Fatal("a daemon's first exit was not restarted at once")
	}
	f.exit(keep, 1)
	m.step(event{})
	if daemonPID(m, "keep") != 0 {
		t.Fatal("a daemon that keeps exiting at once was restarted without backoff")
	}
	if d := m.nextWake(); d > time.Second {
		t.Fatalf("the loop sleeps %v before the daemon's restart", d)
	}
	f.now = f.now.Add(time.Second)
	m.step(event{})
	keep = daemonPID(m, "keep")
	if keep == 0 {
		t.Fatal("the daemon was not restarted")
	}
	m.Reload()
	if got := f.signals[drop]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("daemon removed from the configuration got %v, want SIGTERM", got)
	}
	if len(f.signals[keep]) != 0 || daemonPID(m, "keep") != keep {
		t.Fatal("a daemon still configured was restarted by the reload")
	}
	m.step(event{})
	if daemonPID(m, "new") == 0 {
		t.Fatal("a daemon added by the reload did not start")
	}
	f.exit(drop, 0)
	m.step(event{})
	for _, d := range m.daemons {
		if d.Name == "drop" {
			t.Fatal("a stopped daemon was kept or restarted")
		}
	}
}

func TestShutdownWaitsForDaemons(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, daemonPlan("d"), nil, Hooks{})
	m.step(event{})
	readyAll(m)
	d := daemonPID(m, "d")
	m.shutdown(true)
	m.step(event{})
	f.exit(f.started[0], 0)
	m.step(event{})
	if done, _ := m.finished(); done {
		t.Fatal("done while a daemon still runs")
	}
	f.now = f.now.Add(m.plan.Mercy)
	m.step(event{})
	if got := f.signals[d]; len(got) != 2 || got[1] != syscall.SIGKILL {
		t.Fatalf("daemon got %v, want SIGTERM then SIGKILL after the mercy", got)
	}
	f.killed(d)
	m.step(event{})
	if done, _ := m.finished(); !done {
		t.Fatal("not done after the daemon exited")
	}
}

func TestUpgradeCarriesDaemons(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, daemonPlan("a"), nil, Hooks{})
	m.step(event{})
	h := m.handover()
	a := daemonPID(m, "a")

	g := newFake()
	g.nextPID = 500
	next := newTestMaster(g, daemonPlan("a"), nil, Hooks{})
	next.Adopt(h)
	next.step(event{})
	if daemonPID(next, "a") != a {
		t.Fatalf("the upgraded master runs daemon a as %d, want the adopted %d", daemonPID(next, "a"), a)
	}
	for _, pid := range g.started {
		if pid == daemonPID(next, "a") {
			t.Fatal("started a second copy of an adopted daemon")
		}
	}
}
