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
	"syscall"
	"testing"
	"time"
)

// idleClient is a raw client connection to an http-socket: the test
// decides when it sends, so it can leave the connection idle between
// requests, as a keep-alive client does.
type idleClient struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dialIdleClient(t *testing.T, addr string) *idleClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &idleClient{t: t, conn: c, r: bufio.NewReader(c)}
}

// get sends GET path and reads the answer within limit: its body and
// whether the server keeps the connection.
func (k *idleClient) get(path string, limit time.Duration) (body string, kept bool, err error) {
	k.conn.SetDeadline(time.Now().Add(limit))
	if _, err := fmt.Fprintf(k.conn, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path); err != nil {
		return "", false, err
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return "", false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode != 200 {
		return "", false, fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), !resp.Close, nil
}

// holdRoute wraps echoApp with /hold?FIFO:FILE, a request that writes
// "started" into FIFO and then waits until FILE exists.
const holdRoute = `
import os as _os, time as _time
_echo = application
def application(environ, start_response):
    if environ["PATH_INFO"] != "/hold":
        return _echo(environ, start_response)
    fifo, release = environ["QUERY_STRING"].split(":")
    with open(fifo, "w") as f:
        f.write("started\n")
    while not _os.path.exists(release):
        _time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "4")])
    return [b"done"]
`

// startKeepAliveWorker runs the echo app on an http-socket with one worker
// whose pool is one connection (threads = 1, or gevent = 1 with mode
// "gevent") or two (threads = 2), and returns its address.
func startKeepAliveWorker(t *testing.T, mode string) string {
	t.Helper()
	if mode == "gevent" {
		requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	}
	pool := map[string][]string{"threads": {"--threads", "1"}, "threads2": {"--threads", "2"}, "gevent": {"--gevent", "1"}}[mode]
	_, addr := startOneWorker(t, echoApp+holdRoute, pool...)
	return addr
}

// A keep-alive client idling between requests holds the worker's only
// thread; a second client's connection waits in the listen queue. The
// idle connection makes way (closed after a grace of 100 ms) instead of
// keeping the second client waiting for KEEPALIVE_IDLE (30 s), and the
// first client's next request works on a new connection. With two threads
// and two idle keep-alive clients, a third one is served the same way.
func TestHTTPSocketIdleKeepAliveMakesWay(t *testing.T) {
	parallel(t)
	for _, mode := range []string{"threads", "threads-idle-longer", "threads2", "gevent"} {
		t.Run(mode, func(t *testing.T) {
			addr := startKeepAliveWorker(t, strings.TrimSuffix(mode, "-idle-longer"))
			idle := []*idleClient{dialIdleClient(t, addr)}
			if mode == "threads2" {
				idle = append(idle, dialIdleClient(t, addr))
			}
			for i, a := range idle {
				if _, kept, err := a.get("/pid", 5*time.Second); err != nil || !kept {
					t.Fatalf("client %d's first request: kept %v, error %v (want a kept connection)", i, kept, err)
				}
			}
			if mode == "threads-idle-longer" {
				// The scenario, not a synchronisation: the connection has
				// idled past the first grace when the new client comes.
				time.Sleep(500 * time.Millisecond)
			}
			b := dialIdleClient(t, addr)
			start := time.Now()
			if _, _, err := b.get("/pid", 5*time.Second); err != nil {
				t.Fatalf("a new client's request while keep-alive clients idle on every thread: %v (after %v; want an answer well within the 30 s keep-alive idle)",
					err, time.Since(start).Round(time.Millisecond))
			}
			t.Logf("the new client was answered after %v", time.Since(start).Round(time.Millisecond))
			// Some idle client made way: its connection was closed.
			closed := 0
			for _, a := range idle {
				a.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := a.r.ReadByte(); err == io.EOF {
					closed++
				}
			}
			if closed == 0 {
				t.Fatal("no idle keep-alive connection was closed, yet the new client was served")
			}
			again := dialIdleClient(t, addr)
			if _, _, err := again.get("/pid", 5*time.Second); err != nil {
				t.Fatalf("the idle client's next request, on a new connection: %v", err)
			}
		})
	}
}

// A keep-alive connection that went idle while another thread was free
// makes way too once that thread is taken (by a long request here): it
// looks again every second whether every thread is on a connection.
func TestHTTPSocketIdleKeepAliveMakesWayWhenTheLastThreadIsTaken(t *testing.T) {
	parallel(t)
	addr := startKeepAliveWorker(t, "threads2")
	a := dialIdleClient(t, addr)
	if _, kept, err := a.get("/pid", 5*time.Second); err != nil || !kept {
		t.Fatalf("the idle client's first request: kept %v, error %v (want a kept connection)", kept, err)
	}
	// The scenario, not a synchronisation: the idle connection waits past
	// the first grace with the other thread free.
	time.Sleep(300 * time.Millisecond)
	fifo := filepath.Join(t.TempDir(), "started")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(t.TempDir(), "release")
	defer os.WriteFile(release, nil, 0o600)
	long := getAsync("http://" + addr + "/hold?" + fifo + ":" + release) // takes the other thread
	started, err := os.ReadFile(fifo)                                    // until the app opens it for writing and writes
	if err != nil || string(started) != "started\n" {
		t.Fatalf("the long request never started: %q %v", started, err)
	}
	b := dialIdleClient(t, addr)
	start := time.Now()
	if _, _, err := b.get("/pid", 5*time.Second); err != nil {
		t.Fatalf("a new client while one thread serves a long request and the other idles on keep-alive: %v (after %v; want about a second)",
			err, time.Since(start).Round(time.Millisecond))
	}
	t.Logf("the new client was answered after %v", time.Since(start).Round(time.Millisecond))
	os.WriteFile(release, nil, 0o600)
	if r := <-long; r.err != nil || r.code != 200 {
		t.Fatalf("the long request: %d %v", r.code, r.err)
	}
}

// A keep-alive client sending requests back to back on one connection does
// not keep a second client waiting either: the response that finds the
// second one queued says Connection: close (others_waiting), and a gap
// between requests is covered by the idle rule above.
func TestHTTPSocketBusyKeepAliveClientLetsOthersIn(t *testing.T) {
	parallel(t)
	addr := startKeepAliveWorker(t, "threads")
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		a, n := (*idleClient)(nil), 0
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if a == nil {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					done <- err
					return
				}
				defer c.Close()
				a = &idleClient{conn: c, r: bufio.NewReader(c)}
			}
			_, kept, err := a.get("/pid", 5*time.Second)
			if err != nil {
				done <- fmt.Errorf("request %d of the busy client: %w", n, err)
				return
			}
			n++
			if !kept {
				a.conn.Close()
				a = nil
			}
		}
	}()
	defer func() {
		close(stop)
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	for i := 0; i < 5; i++ {
		b := dialIdleClient(t, addr)
		start := time.Now()
		if _, _, err := b.get("/pid", 5*time.Second); err != nil {
			t.Fatalf("client %d beside a busy keep-alive client: %v (after %v)", i, err, time.Since(start).Round(time.Millisecond))
		}
		b.conn.Close()
	}
}

// The hand-off test's load, with keep-alive connections (Go's
// http.Transport, which also dials connections it then leaves idle):
// two clients on one worker of one thread both get served across
// reloads, none fails. A spare connection the transport dialed and left
// idle holds the one thread once accepted, until its request comes or
// socket-timeout (4 s) ends it, as in uWSGI (docs/reliability.md): a
// request may wait that long here, so the clients wait 10 s (with 3 s,
// one request of a few hundred timed out when the machine was busy).
func TestReloadHandsOffUnderKeepAliveLoad(t *testing.T) {
	parallel(t)
	m, addr := startOneWorker(t, echoApp)
	load := startLoadWith("http://"+addr+"/pid", 2, &http.Transport{MaxIdleConnsPerHost: 2, ResponseHeaderTimeout: 10 * time.Second})
	for gen := 2; gen <= 3; gen++ {
		handOffGap(t, m, gen)
	}
	ok, failed, firstErr := load.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d keep-alive requests failed across the hand-offs (%d ok); first error: %v", failed, ok, firstErr)
	}
}
