package master

import (
	"errors"
	"syscall"
	"testing"
)

// A worker whose scoreboard slot holds garbage is killed once and a
// replacement starts at once, with no backoff: the master never trusts it.
func TestCorruptSlotReplacesWorker(t *testing.T) {
	f := newFake()
	board := newFakeBoard()
	board.bad = map[int]error{}
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	readyAll(m)
	m.step(event{})
	if len(f.signals[f.started[0]])+len(f.signals[f.started[1]]) != 0 {
		t.Fatal("a worker with a clean slot was signalled")
	}
	board.bad[1] = errors.New("core 0: vars length is 18446744073709551615")
	m.step(event{})
	hostile := f.started[1]
	if got := f.signals[hostile]; len(got) != 1 || got[0] != syscall.SIGKILL {
		t.Fatalf("the worker that corrupted its slot got %v, want one SIGKILL", got)
	}
	if len(f.started) != 3 {
		t.Fatalf("no replacement started at once (started %d)", len(f.started))
	}
	m.step(event{}) // still corrupt until it dies: not signalled again
	if got := f.signals[hostile]; len(got) != 1 {
		t.Fatalf("signalled %d times", len(got))
	}
	delete(board.bad, 1)
	f.killed(hostile)
	m.step(event{})
	if len(f.started) != 3 {
		t.Fatalf("its death started another worker (started %d)", len(f.started))
	}
	if len(f.signals[f.started[0]]) != 0 {
		t.Fatal("the honest worker was signalled")
	}
}
