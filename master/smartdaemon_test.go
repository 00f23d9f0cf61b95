package master

import (
	"syscall"
	"testing"
	"time"
)

func smartPlan(live *int, foreground bool) *Plan {
	p := testPlan(1)
	p.Daemons = []DaemonSpec{{Name: "smart", Freq: 3, Foreground: foreground,
		Pidfile: func() int { return *live },
		Spec:    func() (*ProcSpec, error) { return &ProcSpec{Path: "/bin/sh"}, nil }}}
	return p
}

func TestSmartDaemonIsFoundByItsPidfileAndOutlivesTheMaster(t *testing.T) {
	f := newFake()
	live := 0
	m := newTestMaster(f, smartPlan(&live, false), nil, Hooks{})
	m.step(event{})
	readyAll(m)
	launcher := f.started[len(f.started)-1]
	if daemonPID(m, "smart") != launcher {
		t.Fatal("a smart daemon without a live pidfile was not started")
	}
	f.exit(launcher, 0) // it daemonized
	live = 4242
	m.step(event{})
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if d := m.daemons[0]; d.smartPID != 4242 || d.pid != 0 {
		t.Fatalf("after daemonizing: %+v, want the pidfile's process watched", *d)
	}
	n := len(f.started)
	live = 0 // it died
	f.now = f.now.Add(time.Second)
	m.step(event{})
	m.step(event{})
	if len(f.started) != n+1 {
		t.Fatal("a smart daemon whose process is gone was not started again")
	}
	f.exit(f.started[n], 0)
	live = 4343
	f.now = f.now.Add(time.Second)
	m.step(event{})
	m.shutdown(true)
	m.step(event{})
	if len(f.signals[4343]) != 0 || len(f.signals[-4343]) != 0 {
		t.Fatal("shutdown signalled a smart daemon without notifypid")
	}
	for _, w := range m.liveWorkers() {
		f.exit(w.PID, 0)
	}
	m.step(event{})
	if done, _ := m.finished(); !done {
		t.Fatal("the master waits for a smart daemon, which outlives it")
	}
}

func TestSmartDaemonAlreadyRunningIsNotStartedAgain(t *testing.T) {
	f := newFake()
	live := 777
	m := newTestMaster(f, smartPlan(&live, true), nil, Hooks{})
	m.step(event{})
	if len(f.started) != 1 || m.daemons[0].smartPID != 777 {
		t.Fatalf("started %v: a smart daemon whose pidfile names a live process was started again", f.started)
	}
}

func TestSmartDaemonThatNeverWritesItsPidfileIsRestarted(t *testing.T) {
	f := newFake()
	live := 0
	m := newTestMaster(f, smartPlan(&live, false), nil, Hooks{})
	m.step(event{})
	f.exit(f.started[len(f.started)-1], 0)
	m.step(event{})
	n := len(f.started)
	for i := 0; i < 3; i++ {
		f.now = f.now.Add(time.Second)
		m.step(event{})
	}
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if len(f.started) != n+1 {
		t.Fatalf("started %d more, want one restart after freq (3) checks", len(f.started)-n)
	}
}

func TestAttachDaemon2Signals(t *testing.T) {
	f := newFake()
	touched := false
	plan := func() *Plan {
		p := testPlan(1)
		p.Daemons = []DaemonSpec{
			{Name: "d", Group: true, StopSignal: syscall.SIGINT, ReloadSignal: syscall.SIGUSR1, Touched: func() bool { t := touched; touched = false; return t },
				Spec: func() (*ProcSpec, error) { return &ProcSpec{Path: "/bin/sh", Setsid: true}, nil }},
			{Name: "ctl", Control: true, Spec: func() (*ProcSpec, error) { return &ProcSpec{Path: "/bin/sh"}, nil }},
		}
		return p
	}
	m := newTestMaster(f, plan(), func() (*Plan, error) { return plan(), nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	d := daemonPID(m, "d")
	m.Reload()
	if got := f.signals[-d]; len(got) != 1 || got[0] != syscall.SIGUSR1 {
		t.Fatalf("reload sent %v to the daemon's group, want its reloadsignal", got)
	}
	readyAll(m)
	touched = true
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if got := f.signals[-d]; len(got) != 2 || got[1] != syscall.SIGINT {
		t.Fatalf("touch sent %v, want its stopsignal", got)
	}
	f.exit(d, 0)
	m.step(event{})
	if d2 := daemonPID(m, "d"); d2 == 0 || d2 == d {
		t.Fatal("a touched daemon was not started again at once")
	}
	f.exit(daemonPID(m, "ctl"), 1)
	m.step(event{})
	if m.phase != draining {
		t.Fatal("a control daemon's death did not stop the master gracefully")
	}
}
