package main

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// turnApp: /block holds the whole worker (time.sleep, not patched) until
// $RELEASE exists; /count answers how many /count requests were inside
// the app when it came in, itself included, yielding to the hub twice.
const turnApp = `import os, sys, time
import gevent
inside = [0]
def application(environ, start_response):
    if environ["PATH_INFO"] == "/block":
        sys.stderr.write("turnapp: holding the hub\n")
        sys.stderr.flush()
        while not os.path.exists(os.environ["RELEASE"]):
            time.sleep(0.05)
        body = b"released"
    else:
        inside[0] += 1
        seen = inside[0]
        gevent.sleep(0)
        gevent.sleep(0)
        inside[0] -= 1
        body = str(seen).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// A gevent worker takes one connection from the listen queue each turn of
// its hub and serves it at once, as uWSGI's gevent loop does, leaving the
// rest of the queue to the next turn or another worker. Six requests
// queued while the worker was held are served nearly one after another
// (at most 3 inside the app at once), not accepted in one go and then run
// all together (6 at once: one worker took a whole burst while the other
// idled, and each of them waited behind the others).
func TestGeventWorkerAcceptsOneConnectionPerTurn(t *testing.T) {
	parallel(t)
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "turnapp.py"), turnApp)
	sock := filepath.Join(dir, "app.sock")
	release := filepath.Join(dir, "release")
	m := startMaster(t, dir, "--socket", sock, "--module", "turnapp", "--processes", "1", "--gevent", "10",
		"--listen", "64", "--python-bin", py, "--chdir", dir, "--env", "RELEASE="+release)
	m.waitLog(`all workers ready`, 1)
	block := dialUnix(t, sock)
	uwsgiRequest(t, block, "GET", "/block", 0)
	m.waitLog(`turnapp: holding the hub`, 1)
	const n = 6
	conns := make([]net.Conn, n)
	for i := range conns { // queued in the listen backlog, requests sent
		conns[i] = dialUnix(t, sock)
		uwsgiRequest(t, conns[i], "GET", "/count", 0)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := readAnswer(t, block); code != 200 || body != "released" {
		t.Fatalf("/block: %d %q", code, body)
	}
	most := 0
	for i, c := range conns {
		code, body := readAnswer(t, c)
		seen, err := strconv.Atoi(body)
		if code != 200 || err != nil {
			t.Fatalf("/count %d: %d %q", i, code, body)
		}
		most = max(most, seen)
	}
	if most > 3 {
		t.Fatalf("%d of the %d queued requests were inside the app at once: the worker accepted the queue in one go, want one connection a turn (at most 3 at once)", most, n)
	}
}

// A gevent worker whose app closed its listening socket (fd 3) exits and
// is replaced, as a threaded one does (TestAppClosingTheListeningSocketIsReplaced).
func TestGeventAppClosingTheListeningSocketIsReplaced(t *testing.T) {
	parallel(t)
	closedListenerIsReplaced(t, requireTool(t, "/usr/bin/python3", "-c", "import gevent"), "--gevent", "10")
}

// coresApp: /hold stays inside the app (cooperatively) for a moment and
// answers the most requests it ever saw inside at once.
const coresApp = `import gevent
inside = [0, 0]
def application(environ, start_response):
    inside[0] += 1
    inside[1] = max(inside[1], inside[0])
    gevent.sleep(0.2)
    inside[0] -= 1
    body = str(inside[1]).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// With every core busy the worker stops accepting and leaves the queue
// in the kernel; each core that frees up takes the next connection: 8
// requests at once on gevent = 2 are all answered, never more than 2
// inside the app.
func TestGeventWorkerAcceptsOnlyWhileACoreIsFree(t *testing.T) {
	parallel(t)
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "coresapp.py"), coresApp)
	sock := filepath.Join(dir, "app.sock")
	m := startMaster(t, dir, "--socket", sock, "--module", "coresapp", "--processes", "1", "--gevent", "2",
		"--python-bin", py, "--chdir", dir)
	m.waitLog(`all workers ready`, 1)
	const n = 8
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = dialUnix(t, sock)
		uwsgiRequest(t, conns[i], "GET", "/hold", 0)
	}
	for i, c := range conns {
		code, body := readAnswer(t, c)
		if code != 200 || (body != "1" && body != "2") {
			t.Fatalf("request %d: %d %q; want 200 and at most 2 (gevent = 2) inside the app at once", i, code, body)
		}
	}
	m.waitLog(`request: method=GET path=/hold status=200`, n)
}
