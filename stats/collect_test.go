package stats

import (
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
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
	if !s.Guard(func() {}) {
		t.Fatal("Guard did not run f on an open server")
	}
	s.Close()
	if _, err := s.Current(); err == nil {
		t.Fatal("a closed server still collected (the master unmaps the scoreboard after Close)")
	}
	if s.Guard(func() { t.Fatal("ran after Close") }) {
		t.Fatal("Guard reported running after Close")
	}
}

// A flood of connections that never finish their request holds at most
// MaxClients handlers; the rest wait in the listen queue, costing the
// master no descriptor.
func TestServeBoundsConcurrentClients(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := &Server{Collector: &Collector{}, HTTP: true, Log: hclog.NewNullLogger(),
		Snapshot: func() ([]WorkerInfo, error) { return nil, nil }}
	base := runtime.NumGoroutine()
	go s.Serve(l)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 3*MaxClients; i++ { // each waits for a request line that never comes
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for runtime.NumGoroutine() < base+MaxClients {
		runtime.Gosched() // until the server has taken all it may
	}
	time.Sleep(200 * time.Millisecond) // room for an unbounded server to take more
	if n := runtime.NumGoroutine() - base; n > MaxClients+2 {
		t.Fatalf("%d stalled clients hold %d goroutines, want at most %d", len(conns), n, MaxClients+2)
	}
}
