package master

import (
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// A reload's old worker keeps serving until the new one of its slot has
// served a request, and the loop polls the scoreboard meanwhile.
func TestReloadHandsOffWhenTheNewWorkerServed(t *testing.T) {
	f := newFake()
	plan := testPlan(2)
	board := newFakeBoard()
	m := newTestMaster(f, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	readyAll(m)
	old := f.started[:2]
	m.Reload()
	m.step(event{})
	fresh := f.started[2:]
	readyAll(m)
	for _, pid := range old {
		if len(f.signals[pid]) != 0 {
			t.Fatalf("old worker %d stopped at its replacement's READY=1, before it served", pid)
		}
	}
	if w := m.nextWake(); w > warmPoll {
		t.Fatalf("with hand-offs waiting the loop sleeps %v, want at most %v", w, warmPoll)
	}
	board.reqs[m.workers[fresh[0]].BoardSlot] = 1
	m.step(event{})
	if got := f.signals[old[0]]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("slot 1's old worker got %v after its replacement served, want SIGTERM", got)
	}
	if len(f.signals[old[1]]) != 0 {
		t.Fatal("slot 2's old worker stopped though its replacement has served nothing")
	}
	f.now = f.now.Add(warmHandoff - time.Millisecond)
	m.step(event{})
	if len(f.signals[old[1]]) != 0 {
		t.Fatal("slot 2's old worker stopped before warmHandoff passed")
	}
	f.now = f.now.Add(time.Millisecond)
	m.step(event{})
	if got := f.signals[old[1]]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("slot 2's old worker got %v after warmHandoff, want SIGTERM", got)
	}
	if w := m.nextWake(); w <= warmPoll {
		t.Fatalf("with no hand-off waiting the loop still polls every %v", w)
	}
}

// Without a scoreboard nothing tells a warm worker: the old one stops at
// the new one's READY=1, as before.
func TestReloadWithoutScoreboardHandsOffAtReady(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	m := newTestMaster(f, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	old := f.started[0]
	m.Reload()
	m.step(event{})
	readyAll(m)
	if got := f.signals[old]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("old worker got %v at its replacement's READY=1, want SIGTERM", got)
	}
}

// A worker that loaded no app is replaced at its replacement's READY=1:
// it only answers 500s, and readiness fails while it runs.
func TestReloadReplacesAWorkerWithoutAnAppAtOnce(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	m := newTestMaster(f, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.SetBoard(newFakeBoard())
	m.step(event{})
	old := f.started[0]
	m.step(event{Note: &ipc.Notification{PID: old, Fields: map[string]string{"READY": "1", ipc.NotifyNoApp: "1"}}})
	m.Reload()
	m.step(event{})
	readyAll(m)
	if got := f.signals[old]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("the worker without an app got %v at its replacement's READY=1, want SIGTERM", got)
	}
}
