package master

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

func wantReady(t *testing.T, m *Master, ready bool, reason string) {
	t.Helper()
	r := m.Readiness()
	if r.Ready != ready || !strings.Contains(r.Reason, reason) {
		t.Fatalf("readiness %+v, want ready=%v with %q", r, ready, reason)
	}
}

func TestReadinessNeedsEveryActiveSlotReady(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	m.step(event{})
	wantReady(t, m, false, "starting")
	m.step(event{Note: &ipc.Notification{PID: f.started[0], Fields: map[string]string{"READY": "1"}}})
	wantReady(t, m, false, "worker 2: pid")
	readyAll(m)
	wantReady(t, m, true, "all 2 workers ready")
}

func TestNoAppWorkerIsNotReady(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGHUP}) // the new generation loads no app
	for _, pid := range f.started[2:] {
		m.step(event{Note: &ipc.Notification{PID: pid, Fields: ipc.ParseNotify("READY=1\nNOAPP=1\nSTATUS=no app loaded: ImportError: nope")}})
	}
	wantReady(t, m, false, "loaded no app: no app loaded: ImportError: nope")
	snap := m.Snapshot()
	if !snap[0].NoApp || !snap[1].NoApp {
		t.Fatalf("snapshot %+v does not show the workers without an app", snap)
	}
	m.step(event{Signal: syscall.SIGHUP}) // fixed: a good reload
	readyAll(m)
	wantReady(t, m, true, "generation 3")
}

// A worker slower to load than ready-timeout is taken as ready; when its
// READY=1 NOAPP=1 comes after that, readiness still fails for it.
func TestNoAppAfterTheReadyTimeoutStillFailsReadiness(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	plan.ReadyTimeout = 3 * time.Second
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	f.now = f.now.Add(3 * time.Second)
	m.step(event{})
	wantReady(t, m, true, "all 1 workers ready")
	m.step(event{Note: &ipc.Notification{PID: f.started[0], Fields: ipc.ParseNotify("READY=1\nNOAPP=1\nSTATUS=no app loaded: ImportError: slow")}})
	wantReady(t, m, false, "loaded no app: no app loaded: ImportError: slow")
}

func TestReadinessFailsWhileASlotBacksOff(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.step(event{})
	f.exit(f.started[0], ipc.ExitAppLoadFailed) // the app does not import; no need-app
	m.step(event{})
	f.exit(f.started[1], ipc.ExitAppLoadFailed)
	m.step(event{})
	wantReady(t, m, false, "backing off")
}

// During a graceful reload the old generation serves: no probe fails. A
// reload whose new workers die before they are ready leaves the old
// generation in place, and ready.
func TestReadinessHoldsThroughGoodAndFailedReloads(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), func() (*Plan, error) { return testPlan(2), nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGHUP})
	wantReady(t, m, true, "")
	f.exit(f.started[2], ipc.ExitAppLoadFailed)
	m.step(event{})
	wantReady(t, m, true, "generation 1")
}

func TestSigtermFailsReadinessThenDrainsAfterShutdownDelay(t *testing.T) {
	f := newFake()
	plan := testPlan(2)
	plan.ShutdownDelay = 5 * time.Second
	m := newTestMaster(f, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGTERM})
	wantReady(t, m, false, "shutting down")
	for _, pid := range f.started {
		if len(f.signals[pid]) != 0 {
			t.Fatalf("worker %d signalled during shutdown-delay: %v", pid, f.signals[pid])
		}
	}
	if w := m.nextWake(); w > 5*time.Second {
		t.Fatalf("next wake in %v, after the delay ends", w)
	}
	m.step(event{Signal: syscall.SIGHUP}) // no reload once terminating
	if len(f.started) != 2 {
		t.Fatalf("a reload started %d workers during shutdown-delay", len(f.started)-2)
	}
	f.now = f.now.Add(4 * time.Second)
	m.step(event{})
	if len(f.signals[f.started[0]]) != 0 {
		t.Fatal("drain began before shutdown-delay passed")
	}
	f.now = f.now.Add(time.Second)
	m.step(event{})
	for _, pid := range f.started {
		if got := f.signals[pid]; len(got) != 1 || got[0] != syscall.SIGTERM {
			t.Fatalf("worker %d got %v after shutdown-delay, want SIGTERM", pid, got)
		}
		f.exit(pid, 0)
	}
	m.step(event{})
	wantReady(t, m, false, "shutting down")
	if done, code := m.finished(); !done || code != 0 {
		t.Fatalf("done=%v code=%d, want done with 0", done, code)
	}
}

func TestSecondSigtermSkipsTheShutdownDelay(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	plan.ShutdownDelay = time.Minute
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGTERM})
	m.step(event{Signal: syscall.SIGTERM})
	if got := f.signals[f.started[0]]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("worker got %v after a second SIGTERM, want SIGTERM", got)
	}
}

func TestSigtermWithoutDelayDrainsAtOnceAndFailsReadiness(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGTERM})
	wantReady(t, m, false, "shutting down")
	if got := f.signals[f.started[0]]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("worker got %v, want SIGTERM at once", got)
	}
}

// Slots cheaper left empty are not missing workers: one active worker of
// four is a ready pool.
func TestReadinessIgnoresCheapSlots(t *testing.T) {
	_, m, _ := cheaperMaster(t, "")
	wantReady(t, m, true, "all 1 workers ready")
}
