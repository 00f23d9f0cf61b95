package master

import (
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/ipc"
)

// fakeForker records fork requests; the fake OS's Start gives the pid.
type fakeForker struct {
	gen    int
	closed bool
}

func (f *fakeForker) Fork(*ProcSpec) (int, error) { return 0, nil }
func (f *fakeForker) Close()                      { f.closed = true }
func (f *fakeForker) ForkAll(specs []*ProcSpec) ([]int, []error) {
	return make([]int, len(specs)), make([]error, len(specs))
}

// zygotePlan is a preloading plan: every worker spec records the zygote
// it was forked from.
func zygotePlan(n int, forkedFrom map[int]int) (*Plan, *[]*fakeForker) {
	forkers := &[]*fakeForker{}
	p := testPlan(n)
	p.Zygote = func(z ZygoteInfo) (*ProcSpec, Forker, error) {
		f := &fakeForker{gen: z.Generation}
		*forkers = append(*forkers, f)
		return &ProcSpec{Path: "/usr/bin/python3"}, f, nil
	}
	p.Spec = func(w SpawnInfo) (*ProcSpec, error) {
		if w.Zygote == nil {
			return &ProcSpec{Path: "/usr/bin/python3"}, nil
		}
		forkedFrom[w.ID] = w.Zygote.(*fakeForker).gen
		return &ProcSpec{Fork: w.Zygote}, nil
	}
	return p, forkers
}

func TestWorkersForkFromTheZygoteOnceItIsReady(t *testing.T) {
	f := newFake()
	forked := map[int]int{}
	plan, _ := zygotePlan(3, forked)
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	if len(f.started) != 1 {
		t.Fatalf("started %d processes before the zygote was ready, want the zygote alone", len(f.started))
	}
	zpid := f.started[0]
	m.step(event{})
	if len(f.started) != 1 {
		t.Fatal("a second zygote or a worker started while the zygote imports the app")
	}
	ready(m, zpid)
	if len(f.started) != 4 || len(forked) != 3 || forked[1] != 1 {
		t.Fatalf("after READY=1 from the zygote: started %v, forked %v; want 3 workers forked from generation 1's", f.started, forked)
	}
	readyAll(m)
	if m.Serving() != 1 {
		t.Fatal("generation 1 not announced ready")
	}
	// Nothing to do until the next check: the loop sleeps (it woke every
	// millisecond while a zygote ran, for the next zygote's start time).
	if w := m.nextWake(); w < 500*time.Millisecond {
		t.Fatalf("with the zygote and every worker ready the loop wakes in %v", w)
	}
}

func TestZygoteKilledIsRebuiltAndNoWorkerIsLost(t *testing.T) {
	f := newFake()
	forked := map[int]int{}
	plan, forkers := zygotePlan(2, forked)
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	zpid := f.started[0]
	ready(m, zpid)
	readyAll(m)
	workers := pidsOf(m, 1)
	f.now = f.now.Add(time.Minute)
	f.killed(zpid)
	m.step(event{Signal: syscall.SIGCHLD})
	if !(*forkers)[0].closed {
		t.Fatal("the dead zygote's connection was not closed")
	}
	if got := pidsOf(m, 1); len(got) != 2 || !sameKeys(got, workers) {
		t.Fatalf("workers after the zygote died: %v, want the same %v", got, workers)
	}
	if len(f.signals) != 0 {
		t.Fatalf("signals sent after the zygote died: %v", f.signals)
	}
	for i := 0; len(f.started) == 3 && i < 100; i++ {
		f.now = f.now.Add(m.nextWake())
		m.step(event{})
	}
	if len(f.started) != 4 {
		t.Fatalf("no new zygote started: %v", f.started)
	}
	// A worker dying now is forked from the new zygote once it is ready.
	victim := f.started[1]
	f.killed(victim)
	m.step(event{})
	if len(f.started) != 4 {
		t.Fatal("a worker was started before the new zygote was ready")
	}
	ready(m, f.started[3])
	if len(f.started) != 5 {
		t.Fatalf("the dead worker was not replaced from the new zygote: %v", f.started)
	}
}

func TestZygoteThatCannotImportFailsTheReload(t *testing.T) {
	f := newFake()
	forked := map[int]int{}
	plan, _ := zygotePlan(2, forked)
	var failed string
	m := newTestMaster(f, plan, func() (*Plan, error) { p, _ := zygotePlan(2, forked); return p, nil },
		Hooks{ReloadFailed: func(_ int, why string) { failed = why }})
	m.step(event{})
	ready(m, f.started[0])
	readyAll(m)
	old := pidsOf(m, 1)
	m.step(event{Signal: syscall.SIGHUP})
	if len(f.started) != 4 {
		t.Fatalf("a reload started %v, want the new zygote only", f.started[3:])
	}
	f.exit(f.started[3], ipc.ExitAppLoadFailed)
	m.step(event{Signal: syscall.SIGCHLD})
	if failed == "" {
		t.Fatal("the reload was not reported failed")
	}
	if m.generation != 1 || !sameKeys(pidsOf(m, 1), old) {
		t.Fatalf("after the failed reload: generation %d, workers %v; want 1 and %v", m.generation, pidsOf(m, 1), old)
	}
	for pid := range old {
		if len(f.signals[pid]) != 0 {
			t.Fatalf("old worker %d was signalled %v", pid, f.signals[pid])
		}
	}
	if len(f.signals[f.started[0]]) != 0 {
		t.Fatal("the serving generation's zygote was stopped by a failed reload")
	}
}

func TestReloadBuildsTheNewZygoteFirstAndStopsTheOldOne(t *testing.T) {
	f := newFake()
	forked := map[int]int{}
	plan, _ := zygotePlan(2, forked)
	m := newTestMaster(f, plan, func() (*Plan, error) { p, _ := zygotePlan(2, forked); return p, nil }, Hooks{})
	m.step(event{})
	oldZ := f.started[0]
	ready(m, oldZ)
	readyAll(m)
	m.step(event{Signal: syscall.SIGHUP})
	newZ := f.started[3]
	ready(m, newZ)
	if forked[1] != 2 || forked[2] != 2 {
		t.Fatalf("reload's workers forked from %v, want generation 2's zygote", forked)
	}
	if len(f.signals[oldZ]) != 0 {
		t.Fatal("the old zygote was stopped before the new generation was ready")
	}
	readyAll(m)
	if got := f.signals[oldZ]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("old zygote got %v once generation 2 was ready, want SIGTERM", got)
	}
	if len(f.signals[newZ]) != 0 {
		t.Fatal("the new zygote was stopped")
	}
}

func TestNeedAppZygoteFailureAtStartEndsTheMaster(t *testing.T) {
	f := newFake()
	plan, _ := zygotePlan(2, map[int]int{})
	plan.NeedApp = true
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	f.exit(f.started[0], ipc.ExitAppLoadFailed)
	m.step(event{})
	if done, code := m.finished(); !done || code != ipc.ExitAppLoadFailed {
		t.Fatalf("finished=%v code=%d, want the master to end with %d", done, code, ipc.ExitAppLoadFailed)
	}
}

func TestShutdownWaitsForTheZygote(t *testing.T) {
	f := newFake()
	plan, _ := zygotePlan(1, map[int]int{})
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	zpid := f.started[0]
	ready(m, zpid)
	readyAll(m)
	m.step(event{Signal: syscall.SIGTERM})
	f.exit(f.started[1], 0)
	m.step(event{})
	if done, _ := m.finished(); done {
		t.Fatal("finished while the zygote runs")
	}
	if got := f.signals[zpid]; len(got) == 0 || got[0] != syscall.SIGTERM {
		t.Fatalf("zygote got %v at shutdown, want SIGTERM", got)
	}
	f.exit(zpid, 0)
	m.step(event{})
	if done, _ := m.finished(); !done {
		t.Fatal("not finished once the zygote and workers are gone")
	}
}

func sameKeys(a, b map[int]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// The workers a generation misses fork from its zygote in one request
// (OS.StartAll), so the zygote forks them back to back; a worker whose
// fork failed alone backs off, and its respawn is a request of its own.
func TestMissingWorkersForkFromTheZygoteInOneRequest(t *testing.T) {
	f := newFake()
	forked := map[int]int{}
	plan, _ := zygotePlan(3, forked)
	var batches []int
	o := f.os()
	o.StartAll = func(specs []*ProcSpec) ([]int, []error) {
		batches = append(batches, len(specs))
		pids, errs := make([]int, len(specs)), make([]error, len(specs))
		for i, spec := range specs {
			pids[i], errs[i] = o.Start(spec)
		}
		if len(specs) == 3 {
			pids[1], errs[1] = 0, errors.New("fork failed")
		}
		return pids, errs
	}
	m := New(hclog.NewNullLogger(), o, plan, nil, Hooks{})
	m.step(event{})
	ready(m, f.started[0])
	if !slices.Equal(batches, []int{3}) || len(pidsOf(m, 1)) != 2 {
		t.Fatalf("after the zygote's READY=1: requests of %v workers, %d workers running; want one request of 3, 2 running (one fork failed)",
			batches, len(pidsOf(m, 1)))
	}
	for i := 0; len(pidsOf(m, 1)) < 3 && i < 100; i++ {
		f.now = f.now.Add(m.nextWake())
		m.step(event{})
	}
	if len(pidsOf(m, 1)) != 3 || len(batches) != 1 {
		t.Fatalf("the failed worker's retry: %d workers, requests %v; want 3 workers, the retry one Start", len(pidsOf(m, 1)), batches)
	}
}
