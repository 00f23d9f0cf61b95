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
// A query string names the phase: /poll?P waits for $RELEASE-P and notes
// its arrival as $ARRIVED/P-*.
const longPollApp = `import os, time, uuid
def application(environ, start_response):
    if environ["PATH_INFO"] == "/poll":
        phase = environ.get("QUERY_STRING", "")
        release = os.environ["RELEASE"] + ("-" + phase if phase else "")
        if os.environ.get("ARRIVED"):
            open(os.path.join(os.environ["ARRIVED"], "%s-%s" % (phase, uuid.uuid4().hex)), "w").close()
        while not os.path.exists(release):
            time.sleep(0.25)
    body = b"pid %d\n" % os.getpid()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// gevent = 1000 with two workers holds 1,000 long polls at once (each
// notes its arrival in a file; none is answered before all arrived), then
// answers every one: on http-socket, behind nginx's uwsgi_pass and
// through the front end (http =), in turn; stats show 1,000 cores a
// worker and every request counted.
func TestGevent1000ConcurrentLongPolls(t *testing.T) {
	parallel(t)
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "poll.py"), longPollApp)
	release := filepath.Join(dir, "release")
	arrived := filepath.Join(dir, "arrived")
	os.Mkdir(arrived, 0o755)
	sock := filepath.Join(dir, "app.sock")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	frontAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, dir, "--http-socket", httpAddr, "--socket", sock, "--http", frontAddr,
		"--module", "poll", "--processes", "2", "--gevent", "1000",
		"--gevent-monkey-patch", "--listen", "1024", "--disable-logging", "--python-bin", py, "--chdir", dir,
		"--env", "RELEASE="+release, "--env", "ARRIVED="+arrived, "--stats", statsAddr)
	m.waitLog(`all workers ready`, 1)
	m.waitLog(`http(\.\d+)?: listening`, 1)
	nginx := startNginx(t, dir, "unix:"+sock)
	const n = 1000
	paths := []struct{ name, base string }{
		{"httpsocket", "http://" + httpAddr}, {"nginx", nginx}, {"frontend", "http://" + frontAddr},
	}
	for _, p := range paths {
		longPolls(t, m, p.base+"/poll?"+p.name, n, filepath.Join(arrived, p.name+"-"), release+"-"+p.name)
	}
	st := waitStats(t, statsAddr, func(st *stats.Stats) bool {
		var req uint64
		for _, w := range st.Workers {
			req += w.Requests
		}
		return req == n*uint64(len(paths))
	})
	for _, w := range st.Workers {
		if len(w.Cores) != 1000 || w.Requests == 0 {
			t.Errorf("worker %d: %d cores (want gevent = 1000), %d requests (want a share)", w.ID, len(w.Cores), w.Requests)
		}
	}
}

// longPolls sends n requests to url at once, waits until all n are inside
// the app (files named arrivedPrefix*), creates the release file and
// wants every answer a 200 from a worker.
func longPolls(t *testing.T, m *masterProc, url string, n int, arrivedPrefix, release string) {
	t.Helper()
	client := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Get(url)
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
		inside, _ := filepath.Glob(arrivedPrefix + "*")
		mu.Lock()
		failed := append([]string(nil), failures...)
		mu.Unlock()
		if len(inside) == n {
			break
		}
		if len(failed) > 0 || time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d long polls inside the app at once; %d failed: %q\n%s", url, len(inside), n, len(failed), failed[:min(len(failed), 3)], m.log())
		}
		time.Sleep(50 * time.Millisecond) // polling the app's arrival files
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%s: %d of %d long polls failed, first: %s", url, len(failures), n, failures[0])
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

// A gevent worker ends when its master is killed: the lifeline is a
// greenlet waiting on the pipe, which reads EOF.
func TestGeventWorkerEndsWithItsMaster(t *testing.T) {
	parallel(t)
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "poll.py"), longPollApp)
	m := startMaster(t, dir, "--socket", filepath.Join(dir, "app.sock"), "--module", "poll", "--processes", "1",
		"--gevent", "10", "--python-bin", py, "--chdir", dir)
	m.waitLog(`all workers ready`, 1)
	pids := m.workerPids()
	m.signal(syscall.SIGKILL)
	m.waitExit()
	waitGone(t, pids, 5*time.Second)
}
