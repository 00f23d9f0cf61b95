package stats

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func serveTest(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go s.Serve(l)
	return "http://" + l.Addr().String()
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestHealthOnlyListener(t *testing.T) {
	ready := Readiness{Reason: "worker 1: pid 7 loaded no app: ImportError"}
	live := error(nil)
	h := &Health{Live: func() error { return live }, Ready: func() Readiness { return ready }}
	base := serveTest(t, &Server{Log: hclog.NewNullLogger(), Health: h, HealthOnly: true})
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok"},
		{"/readyz", 503, "not ready: worker 1: pid 7 loaded no app"},
		{"/readyz?verbose", 503, "not ready"},
		{"/", 404, "answers /healthz and /readyz only"},
		{"/metrics", 404, "not found"},
	} {
		if code, body := fetch(t, base+c.path); code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("GET %s = %d %q, want %d with %q", c.path, code, body, c.code, c.body)
		}
	}
	ready = Readiness{Ready: true, Reason: "generation 1: all 2 workers ready"}
	live = errors.New("the master's loop did not answer within 800ms")
	if code, body := fetch(t, base+"/readyz"); code != 200 || !strings.Contains(body, "all 2 workers") {
		t.Errorf("GET /readyz = %d %q once ready", code, body)
	}
	if code, body := fetch(t, base+"/healthz"); code != 503 || !strings.Contains(body, "did not answer") {
		t.Errorf("GET /healthz = %d %q with a wedged loop", code, body)
	}
}

// stats-http keeps its answers for / (uwsgitop) and /metrics and adds the
// two health paths.
func TestStatsHTTPAnswersHealthToo(t *testing.T) {
	h := &Health{Live: func() error { return nil }, Ready: func() Readiness { return Readiness{Reason: "shutting down"} }}
	s := &Server{Collector: &Collector{}, HTTP: true, Log: hclog.NewNullLogger(), Health: h,
		Snapshot: func() ([]WorkerInfo, error) { return []WorkerInfo{{ID: 1, PID: 0, Slot: -1}}, nil }}
	base := serveTest(t, s)
	if code, body := fetch(t, base+"/"); code != 200 || !strings.Contains(body, `"workers"`) {
		t.Errorf("GET / = %d %q", code, body)
	}
	if code, body := fetch(t, base+"/metrics"); code != 200 || !strings.Contains(body, "supervise_workers") {
		t.Errorf("GET /metrics = %d %.200q", code, body)
	}
	if code, _ := fetch(t, base+"/healthz"); code != 200 {
		t.Errorf("GET /healthz = %d", code)
	}
	if code, body := fetch(t, base+"/readyz"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("GET /readyz = %d %q", code, body)
	}
	// A kubelet's probe is HTTP/1.1 with headers; the answer is complete.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET /healthz HTTP/1.1\r\nHost: 10.0.0.7:1717\r\nUser-Agent: kube-probe/1.31\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("kube-probe style request: %v %v", resp, err)
	}
}

func TestWorkerWithoutAppHasNoApps(t *testing.T) {
	c := &Collector{}
	st := c.Collect([]WorkerInfo{{ID: 1, Slot: -1, NoApp: true}, {ID: 2, Slot: -1}})
	if len(st.Workers[0].Apps) != 0 || len(st.Workers[1].Apps) != 1 {
		t.Fatalf("apps %v and %v, want none for the worker without an app and one otherwise", st.Workers[0].Apps, st.Workers[1].Apps)
	}
}
