package master

import (
	"syscall"
	"testing"
	"time"
)

// staggeredMaster runs n preloading workers of generation 1, ready, with
// a scoreboard, and a reload that re-reads the same plan with ForkWidth
// width. It returns generation 1's worker pids by slot.
func staggeredMaster(t *testing.T, n, width int) (*Master, *fakeOS, *fakeBoard, []int) {
	t.Helper()
	f := newFake()
	forked := map[int]int{}
	plan, _ := zygotePlan(n, forked)
	plan.ForkWidth = width
	reread := func() (*Plan, error) {
		p, _ := zygotePlan(n, forked)
		p.ForkWidth = width
		return p, nil
	}
	board := newFakeBoard()
	m := newTestMaster(f, plan, reread, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	ready(m, f.started[0])
	readyAll(m)
	return m, f, board, workersBySlot(m, 1)
}

// workersBySlot lists generation gen's live workers by slot id (index
// id-1), 0 where the slot has none.
func workersBySlot(m *Master, gen int) []int {
	out := make([]int, len(m.slots))
	for _, w := range m.workers {
		if w.Generation == gen && w.ID >= 1 && w.ID <= len(out) {
			out[w.ID-1] = w.PID
		}
	}
	return out
}

// reloadToNewZygote sends SIGHUP and makes generation 2's zygote ready.
func reloadToNewZygote(t *testing.T, m *Master, f *fakeOS) {
	t.Helper()
	before := len(f.started)
	m.step(event{Signal: syscall.SIGHUP})
	if len(f.started) != before+1 {
		t.Fatalf("the reload started %d processes before its zygote was ready, want the zygote alone", len(f.started)-before)
	}
	ready(m, f.started[before])
}

func TestStaggeredReloadForksOneWorkerAfterAnotherHandsOff(t *testing.T) {
	m, f, board, old := staggeredMaster(t, 3, 1)
	reloadToNewZygote(t, m, f)
	fresh := workersBySlot(m, 2)
	if fresh[0] == 0 || fresh[1] != 0 || fresh[2] != 0 {
		t.Fatalf("generation 2 after its zygote's READY=1: %v by slot, want slot 1 alone", fresh)
	}
	ready(m, fresh[0])
	if fresh = workersBySlot(m, 2); fresh[1] != 0 {
		t.Fatal("slot 2 forked before slot 1's new worker handed off")
	}
	board.reqs[m.workers[fresh[0]].BoardSlot] = 1
	m.step(event{})
	if got := f.signals[old[0]]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("slot 1's old worker got %v after its replacement served, want SIGTERM", got)
	}
	if fresh = workersBySlot(m, 2); fresh[1] == 0 || fresh[2] != 0 {
		t.Fatalf("after slot 1 handed off: %v by slot, want slot 2 forked and slot 3 waiting", fresh)
	}
	if len(f.signals[old[1]]) != 0 || len(f.signals[old[2]]) != 0 {
		t.Fatal("an old worker whose slot's turn has not come was stopped")
	}
	ready(m, fresh[1])
	f.now = f.now.Add(staggerStep - time.Millisecond)
	m.step(event{})
	if fresh = workersBySlot(m, 2); fresh[2] != 0 {
		t.Fatal("slot 3 forked before slot 2's worker served or staggerStep passed")
	}
	f.now = f.now.Add(time.Millisecond)
	m.step(event{})
	if fresh = workersBySlot(m, 2); fresh[2] == 0 {
		t.Fatal("slot 3 not forked staggerStep after slot 2's READY=1 (an idle pool sends it nothing)")
	}
	if len(f.signals[old[1]]) != 0 {
		t.Fatal("slot 2's old worker stopped at the stagger step; its hand-off waits for warmHandoff")
	}
	ready(m, fresh[2])
	f.now = f.now.Add(warmHandoff)
	m.step(event{})
	for i, pid := range old {
		if got := f.signals[pid]; len(got) != 1 || got[0] != syscall.SIGTERM {
			t.Fatalf("slot %d's old worker got %v at the end of the reload, want SIGTERM", i+1, got)
		}
	}
	if m.rolling() || m.announced != 2 {
		t.Fatalf("after every slot turned: rolling %v, generation %d announced; want done, 2", m.rolling(), m.announced)
	}
}

func TestStaggeredReloadForksForkWidthAtOnce(t *testing.T) {
	m, f, board, _ := staggeredMaster(t, 4, 2)
	reloadToNewZygote(t, m, f)
	fresh := workersBySlot(m, 2)
	if fresh[0] == 0 || fresh[1] == 0 || fresh[2] != 0 || fresh[3] != 0 {
		t.Fatalf("generation 2 after its zygote's READY=1: %v by slot, want slots 1 and 2", fresh)
	}
	readyAll(m)
	board.reqs[m.workers[fresh[1]].BoardSlot] = 1
	m.step(event{})
	if fresh = workersBySlot(m, 2); fresh[2] == 0 || fresh[3] != 0 {
		t.Fatalf("after slot 2 handed off: %v by slot, want slot 3 forked beside slot 1", fresh)
	}
}

// A worker of the new generation that dies before READY=1 fails the
// reload: the rollout stops and the old workers of the slots not yet
// reached keep serving.
func TestStaggeredReloadThatFailsKeepsTheOldWorkers(t *testing.T) {
	m, f, _, old := staggeredMaster(t, 3, 1)
	reloadToNewZygote(t, m, f)
	fresh := workersBySlot(m, 2)
	f.exit(fresh[0], 1)
	m.step(event{})
	if m.rolling() || m.generation != 1 {
		t.Fatalf("after generation 2's first worker died: rolling %v, generation %d; want stopped, 1", m.rolling(), m.generation)
	}
	for i := 0; i < 5; i++ {
		f.now = f.now.Add(time.Second)
		m.step(event{})
	}
	if got := workersBySlot(m, 1); got[0] != old[0] || got[1] != old[1] || got[2] != old[2] {
		t.Fatalf("generation 1 after the failed reload: %v, want %v serving", got, old)
	}
	if n := len(pidsOf(m, 2)); n != 0 {
		t.Fatalf("%d generation 2 workers after the failed reload, want none", n)
	}
}

// Without a zygote (lazy-apps) every worker imports the app itself, and
// a graceful reload starts them all at once, as before.
func TestLazyReloadIsNotStaggered(t *testing.T) {
	f := newFake()
	plan := testPlan(3)
	plan.ForkWidth = 1
	m := newTestMaster(f, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.SetBoard(newFakeBoard())
	m.step(event{})
	readyAll(m)
	m.Reload()
	m.step(event{})
	if n := len(pidsOf(m, 2)); n != 3 {
		t.Fatalf("a lazy graceful reload started %d new workers, want all 3", n)
	}
}

// A reload during a staggered reload starts the rollout over for the
// newest generation: every slot ends with a worker of it, and every
// older worker, of either generation, is stopped.
func TestReloadDuringAStaggeredReloadFinishesWithTheNewest(t *testing.T) {
	m, f, board, old := staggeredMaster(t, 2, 1)
	reloadToNewZygote(t, m, f)
	second := workersBySlot(m, 2)
	ready(m, second[0])
	reloadToNewZygote(t, m, f)
	for i := 0; i < 50 && (m.rolling() || m.announced != 3); i++ {
		readyAll(m)
		for _, w := range m.workers {
			board.reqs[w.BoardSlot] = 1
		}
		f.now = f.now.Add(warmPoll)
		m.step(event{})
	}
	if m.rolling() || m.announced != 3 {
		t.Fatalf("after the second reload: rolling %v, generation %d announced; want done, 3", m.rolling(), m.announced)
	}
	third := workersBySlot(m, 3)
	if third[0] == 0 || third[1] == 0 {
		t.Fatalf("generation 3 by slot: %v, want a worker in each", third)
	}
	for _, pid := range append(old, second[0]) {
		if got := f.signals[pid]; len(got) == 0 || got[0] != syscall.SIGTERM {
			t.Fatalf("older worker %d got %v, want SIGTERM", pid, got)
		}
	}
}
