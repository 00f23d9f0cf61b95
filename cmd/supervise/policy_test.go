package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/stats"
	"github.com/supervise-go/supervise/uwsgi"
)

// uwsgiFetch is uwsgiGet for goroutines: it returns the error.
func uwsgiFetch(sock, uri string) (int, string, error) {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	path, query, _ := strings.Cut(uri, "?")
	pkt, _ := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"},
		{Key: "REQUEST_URI", Value: uri}, {Key: "PATH_INFO", Value: path}, {Key: "QUERY_STRING", Value: query},
		{Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}, {Key: "SERVER_NAME", Value: "t"}, {Key: "SERVER_PORT", Value: "80"}})
	if _, err := conn.Write(pkt); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestHarakiriGracefulTimeoutSignalsFirst(t *testing.T) {
	parallel(t)
	m, _, sock := startEcho(t, "--harakiri", "1", "--harakiri-graceful-timeout", "1", "--harakiri-graceful-signal", "SIGTERM", "--processes", "1")
	start := time.Now()
	if _, _, err := uwsgiFetch(sock, "/hang"); err == nil {
		t.Fatal("the hung request got a response; want the connection cut")
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("hung request cut after %v, want near harakiri + graceful timeout (2 s)", took)
	}
	m.waitLog(`signalling the worker first.*signal=SIGTERM`, 1)
	m.waitLog(`killing worker.*did not stop within harakiri-graceful-timeout`, 1)
	if code, _, err := uwsgiFetch(sock, "/pid"); code != 200 {
		t.Fatalf("not serving after harakiri: %d %v", code, err)
	}
}

func TestReloadOnRSSRecyclesALeakingWorker(t *testing.T) {
	parallel(t)
	m, _, sock := startEcho(t, "--reload-on-rss", "80", "--min-worker-lifetime", "0", "--processes", "1", "--threads", "1")
	_, first, err := uwsgiFetch(sock, "/leak?100")
	if err != nil {
		t.Fatal(err)
	}
	m.waitLog(`replacing worker: its memory passed reload-on-rss.*pid=`+first, 1)
	m.waitLog(`worker stopped: .*pid=`+first, 1)
	if _, pid, err := uwsgiFetch(sock, "/pid"); err != nil || pid == first {
		t.Fatalf("after reload-on-rss the leaking worker %s still serves (got %q, %v)", first, pid, err)
	}
}

func TestCheaperGrowsUnderLoadAndShrinksWhenIdle(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, dir, sock := startEcho(t, "--processes", "3", "--threads", "1", "--cheaper", "1", "--cheaper-overload", "1", "--stats", addr)
	if got := m.workerPids(); len(got) != 1 {
		t.Fatalf("%d workers at start, want cheaper's 1", len(got))
	}
	gate := filepath.Join(dir, "release")
	done := make(chan error, 3)
	for range 3 {
		go func() {
			_, _, err := uwsgiFetch(sock, "/wait?"+gate)
			done <- err
		}()
	}
	m.waitLog(`cheaper: starting more workers`, 2)
	m.waitLog(`spawned worker`, 3)
	st := waitStats(t, addr, func(st *stats.Stats) bool { return countStatus(st, "busy") == 3 })
	if countStatus(st, "cheap") != 0 {
		t.Fatalf("cheap workers while all three are busy: %+v", st.Workers)
	}
	if err := os.WriteFile(gate, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-done; err != nil {
			t.Fatalf("a request failed while the pool grew: %v", err)
		}
	}
	m.waitLog(`cheaper: stopping a worker`, 2)
	waitStats(t, addr, func(st *stats.Stats) bool { return countStatus(st, "cheap") == 2 })
	if code, _, err := uwsgiFetch(sock, "/pid"); code != 200 {
		t.Fatalf("not serving after shrinking: %d %v", code, err)
	}
}

func countStatus(st *stats.Stats, status string) int {
	n := 0
	for _, w := range st.Workers {
		if w.Status == status {
			n++
		}
	}
	return n
}

// waitStats polls the stats socket until ok holds (the state it waits for
// is the master's, which has no event to wait on from outside).
func waitStats(t *testing.T, addr string, ok func(*stats.Stats) bool) *stats.Stats {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _, err := stats.Fetch(addr)
		if err == nil && ok(&st) {
			return &st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never reached the expected state: %+v %v", st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A keep-alive client must not hold the only thread while another
// connection waits: the response then says Connection: close.
func TestKeepAliveYieldsToQueuedConnections(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, dir, _ := startEcho(t, "--http-socket", addr, "--processes", "1", "--threads", "1")
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ra := bufio.NewReader(a)
	get := func(path string) (*http.Response, error) {
		fmt.Fprintf(a, "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path)
		resp, err := http.ReadResponse(ra, nil)
		if err == nil {
			io.ReadAll(resp.Body)
		}
		return resp, err
	}
	if resp, err := get("/pid"); err != nil || resp.Close {
		t.Fatal("closed a keep-alive connection with nobody waiting")
	}
	b, err := net.Dial("tcp", addr) // queued: the only thread is on a's connection
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// The next request on a runs while b waits in the listen queue;
	// /wait returns once the queue is seen from the file the test writes
	// after b connected, so the order is fixed.
	gate := filepath.Join(dir, "b-connected")
	os.WriteFile(gate, nil, 0o600)
	// (A stall of 200 ms before the request goes out lets a's idle
	// connection make way instead, closed unanswered: keepalive_test.go.)
	if resp, err := get("/wait?" + gate); err != nil {
		t.Logf("a's idle connection made way before its request came: %v", err)
	} else if !resp.Close {
		t.Fatal("kept the connection while another one waited for the only thread")
	}
	fmt.Fprintf(b, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n")
	b.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(b), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("the queued connection was not served: %v", err)
	}
}
