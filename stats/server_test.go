package stats

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// A plain stats server's document reaches a client that sent a request
// line first (as Fetch does) whole, however large: closing with that line
// unread would reset the connection and cut the document short.
func TestPlainDocumentWholeAfterAnUnreadRequest(t *testing.T) {
	workers := make([]WorkerInfo, 3000) // a document of about a megabyte
	for i := range workers {
		workers[i] = WorkerInfo{ID: i + 1, PID: 100000 + i, Slot: -1, Ready: true, Chdir: strings.Repeat("d", 64)}
	}
	s := &Server{Collector: &Collector{}, Log: hclog.NewNullLogger(), Snapshot: func() ([]WorkerInfo, error) { return workers, nil }}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go s.Serve(l)
	for i := 0; i < 5; i++ {
		st, raw, err := Fetch(l.Addr().String())
		if err != nil || len(st.Workers) != len(workers) {
			t.Fatalf("fetch %d: %d workers of %d, %d bytes: %v", i, len(st.Workers), len(workers), len(raw), err)
		}
	}
}

// The client's deadline starts when the document is ready: a document
// slower to build than the deadline (thousands of workers on a loaded
// machine) still reaches the client whole.
func TestSlowDocumentStillReachesTheClient(t *testing.T) {
	const deadline = 200 * time.Millisecond
	slow := func() ([]WorkerInfo, error) {
		time.Sleep(2 * deadline) // the build outlasts the deadline
		return []WorkerInfo{{ID: 1, PID: 42, Slot: -1, Ready: true}}, nil
	}
	for _, http := range []bool{false, true} {
		s := &Server{Collector: &Collector{}, Log: hclog.NewNullLogger(), Snapshot: slow, HTTP: http, ClientDeadline: deadline}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go s.Serve(l)
		if st, raw, err := Fetch(l.Addr().String()); err != nil || len(st.Workers) != 1 {
			t.Fatalf("http=%v: %d workers, %d bytes: %v", http, len(st.Workers), len(raw), err)
		}
	}
}
