package stats

import (
	"os"
	"runtime/debug"
	"testing"
)

// Reading a worker's RSS must not open a descriptor per worker per
// request: os.FindProcess (inside gopsutil's NewProcess) holds a pidfd
// until the garbage collector runs, so a dashboard polling a big pool
// piled up thousands of open fds in the master.
func TestCollectOpensNoDescriptors(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no finalizer may hide a leak
	c := &Collector{}
	workers := []WorkerInfo{{ID: 1, PID: os.Getpid(), Slot: -1, Ready: true}}
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc")
		}
		return len(ents)
	}
	c.Collect(workers)
	before := count()
	for i := 0; i < 100; i++ {
		if st := c.Collect(workers); st.Workers[0].RSS == 0 {
			t.Fatal("no RSS read")
		}
	}
	if after := count(); after > before+5 {
		t.Fatalf("100 collections left %d more open descriptors", after-before)
	}
}

func TestClosedServerCollectsNothing(t *testing.T) {
	calls := 0
	s := &Server{Collector: &Collector{}, Snapshot: func() ([]WorkerInfo, error) { calls++; return nil, nil }}
	if _, err := s.Current(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Current(); err == nil {
		t.Fatal("a closed server still collected (the master unmaps the scoreboard after Close)")
	}
}
