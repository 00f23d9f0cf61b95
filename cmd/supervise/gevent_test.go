package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/stats"
	"github.com/supervise-go/supervise/uwsgi"
)

// longPollApp holds each /poll request until the file $RELEASE exists,
// sleeping with time.sleep: cooperative only under gevent-monkey-patch.
const longPollApp = `import os, time, uuid
def application(environ, start_response):
    if environ["PATH_INFO"] == "/poll":
        if os.environ.get("ARRIVED"):
            open(os.path.join(os.environ["ARRIVED"], uuid.uuid4().hex), "w").close()
        while not os.path.exists(os.environ["RELEASE"]):
            time.sleep(0.25)
    body = b"pid %d\n" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// gevent = 1000 with two workers holds 1,000 long polls at once (each
// notes its arrival in a file; none is answered before all arrived), then
// answers every one; stats show 1,000 cores a worker.
func TestGevent1000ConcurrentLongPolls(t *testing.T) {
	parallel(t)
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "poll.py"), longPollApp)
	release := filepath.Join(dir, "release")
	arrived := filepath.Join(dir, "arrived")
	os.Mkdir(arrived, 0o755)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, dir, "--http-socket", httpAddr, "--module", "poll", "--processes", "2", "--gevent", "1000",
		"--gevent-monkey-patch", "--listen", "1024", "--disable-logging", "--python-bin", py, "--chdir", dir,
		"--env", "RELEASE="+release, "--env", "ARRIVED="+arrived, "--stats", statsAddr)
	m.waitLog(`all workers ready`, 1)
	const n = 1000
	client := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get("http://" + httpAddr + "/poll")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "pid ") {
					err = fmt.Errorf("%d %q", resp.StatusCode, body)
				}
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, err.Error())
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		entries, _ := os.ReadDir(arrived)
		if len(entries) == n {
			break
		}
		mu.Lock()
		failed := append([]string(nil), failures...)
		mu.Unlock()
		if len(failed) > 0 || time.Now().After(deadline) {
			t.Fatalf("%d of %d long polls inside the app at once; %d failed: %q\n%s", len(entries), n, len(failed), failed[:min(len(failed), 3)], m.log())
		}
		time.Sleep(50 * time.Millisecond) // polling the app's arrival files
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d long polls failed, first: %s", len(failures), n, failures[0])
	}
	st := waitStats(t, statsAddr, func(st *stats.Stats) bool {
		var req uint64
		for _, w := range st.Workers {
			req += w.Requests
		}
		return req == n
	})
	for _, w := range st.Workers {
		if len(w.Cores) != 1000 || w.Requests == 0 {
			t.Errorf("worker %d: %d cores (want gevent = 1000), %d requests (want a share)", w.ID, len(w.Cores), w.Requests)
		}
	}
}

// An interpreter without gevent is a start-up error that says what to
// install; with need-app the master stops.
func TestGeventWithoutGeventIsAClearError(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "poll.py"), longPollApp)
	// -S: no site-packages, so no gevent (the worker needs only the stdlib).
	bare := filepath.Join(dir, "python-bare")
	writeFile(t, bare, "#!/bin/sh\nexec /usr/bin/python3 -S \"$@\"\n")
	os.Chmod(bare, 0o755)
	m := startMaster(t, dir, "--socket", filepath.Join(dir, "app.sock"), "--module", "poll", "--gevent", "10",
		"--need-app", "--python-bin", bare, "--chdir", dir)
	if code := m.waitExit(); code == 0 {
		t.Fatal("master exited 0 with a worker that cannot run gevent")
	}
	m.waitLog(`gevent = 10, but this interpreter has no gevent: install it .*python3-gevent`, 1)
}

// Harakiri, max-requests and a graceful reload on a gevent worker.
func TestGeventHarakiriMaxRequestsAndReload(t *testing.T) {
	parallel(t)
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "poll.py"), longPollApp)
	sock := filepath.Join(dir, "app.sock")
	m := startMaster(t, dir, "--socket", sock, "--module", "poll", "--processes", "1", "--gevent", "10",
		"--gevent-early-monkey-patch", "--harakiri", "2", "--max-requests", "4", "--min-worker-lifetime", "0",
		"--python-bin", py, "--chdir", dir, "--env", "RELEASE="+filepath.Join(dir, "never"))
	m.waitLog(`all workers ready`, 1)
	m.waitLog(`monkey=early`, 1)
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pkt, _ := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"},
		{Key: "REQUEST_URI", Value: "/poll"}, {Key: "PATH_INFO", Value: "/poll"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}})
	conn.Write(pkt)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if n, _ := conn.Read(make([]byte, 100)); n != 0 {
		t.Fatalf("a poll never released answered %d bytes", n)
	}
	m.waitLog(`HARAKIRI: .*request="GET /poll"`, 1)
	m.waitLog(`worker.1: ready: `, 2)
	for i := 0; i < 10; i++ {
		if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	m.waitLog(`replacing worker: it served max-requests`, 1)
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
	if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
		t.Fatal("not serving after the reload")
	}
}
