package supervisor

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/master"
)

// idleOS is an OS seam that starts nothing: the loop is never stepped.
func idleOS() master.OS {
	return master.OS{
		Start:  func(*master.ProcSpec) (int, error) { return 0, syscall.ENOSYS },
		Signal: func(int, syscall.Signal) error { return nil },
		Reap:   func() []master.Exit { return nil },
		Now:    time.Now,
		RSS:    func(int) (uint64, error) { return 0, nil },
	}
}

// A loop that does not take calls fails both probes within the timeout.
func TestWedgedLoopFailsLiveness(t *testing.T) {
	m := master.New(hclog.NewNullLogger(), idleOS(), &master.Plan{Processes: 1}, nil, master.Hooks{})
	calls := make(chan func()) // nobody reads: a wedged loop
	h := loopHealth(m, calls, 50*time.Millisecond)
	if err := h.Live(); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Fatalf("Live() = %v, want a timeout", err)
	}
	if r := h.Ready(); r.Ready || !strings.Contains(r.Reason, "did not answer") {
		t.Fatalf("Ready() = %+v, want not ready with the timeout", r)
	}
	done := make(chan struct{})
	go func() { // a loop that answers
		defer close(done)
		for i := 0; i < 2; i++ {
			(<-calls)()
		}
	}()
	if err := h.Live(); err != nil {
		t.Fatalf("Live() with a running loop = %v", err)
	}
	if r := h.Ready(); r.Ready {
		t.Fatalf("Ready() = %+v before any worker started", r)
	}
	<-done
}
