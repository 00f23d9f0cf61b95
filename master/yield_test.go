package master

import (
	"reflect"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// A reload's zygote imports at a lower priority and is set back at
// READY=1, before any worker forks from it; the first generation's is
// never lowered.
func TestReloadZygoteLoadsAtLowerPriorityUntilReady(t *testing.T) {
	f := newFake()
	plan, _ := zygotePlan(2, map[int]int{})
	m := newTestMaster(f, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.step(event{})
	first := f.started[0]
	ready(m, first)
	readyAll(m)
	if len(f.nice) != 0 {
		t.Fatalf("the first generation was reniced: %v", f.nice)
	}
	m.Reload()
	m.step(event{})
	second := f.started[len(f.started)-1]
	if second == first || !reflect.DeepEqual(f.nice[second], []int{reloadNice}) {
		t.Fatalf("the reload's zygote %d: renice calls %v, want [%d]", second, f.nice[second], reloadNice)
	}
	before := len(f.started)
	ready(m, second)
	if !reflect.DeepEqual(f.nice[second], []int{reloadNice, 0}) {
		t.Fatalf("after READY=1 the zygote's renice calls are %v, want it set back to 0", f.nice[second])
	}
	for _, pid := range f.started[before:] {
		if len(f.nice[pid]) != 0 {
			t.Fatalf("a worker forked from the zygote was reniced: %v", f.nice[pid])
		}
	}
}

// Without a zygote each new worker of a reload loads the app itself: it
// runs lower until its own READY=1.
func TestReloadLazyWorkerLoadsAtLowerPriorityUntilReady(t *testing.T) {
	f := newFake()
	plan := testPlan(2)
	m := newTestMaster(f, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	old := len(f.started)
	m.Reload()
	m.step(event{})
	fresh := f.started[old:]
	if len(fresh) != 2 {
		t.Fatalf("the reload started %d workers, want 2", len(fresh))
	}
	for _, pid := range fresh {
		if !reflect.DeepEqual(f.nice[pid], []int{reloadNice}) {
			t.Fatalf("new worker %d: renice calls %v, want [%d]", pid, f.nice[pid], reloadNice)
		}
	}
	readyAll(m)
	for _, pid := range fresh {
		if !reflect.DeepEqual(f.nice[pid], []int{reloadNice, 0}) {
			t.Fatalf("ready worker %d: renice calls %v, want it set back to 0", pid, f.nice[pid])
		}
	}
}

// A master that could not set a process back lowers none.
func TestNoReniceWithoutTheMeansToRestore(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	o := f.os()
	o.Renice = nil
	m := New(hclog.NewNullLogger(), o, plan, func() (*Plan, error) { return plan, nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	m.Reload()
	m.step(event{})
	readyAll(m)
	if len(f.started) != 2 || len(f.nice) != 0 {
		t.Fatalf("started %v, renice calls %v", f.started, f.nice)
	}
}
