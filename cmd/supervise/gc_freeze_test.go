package main

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
)

// Apps that answer how many objects the collector has frozen.
const freezeWSGI = `import gc
def application(environ, start_response):
    body = str(gc.get_freeze_count()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

const freezeASGI = `import gc
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = str(gc.get_freeze_count()).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})
`

// The async engines freeze what the app's import (and an ASGI app's
// lifespan startup) made before serving, so no full collection walks it
// during a request (a latency pause, bench/async.sh's p99).
func TestAsyncWorkersFreezeTheAppsObjects(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "fwsgi.py"), freezeWSGI)
	writeFile(t, filepath.Join(dir, "fasgi.py"), freezeASGI)
	frozen := func(what, body string) {
		t.Helper()
		if n, err := strconv.Atoi(body); err != nil || n < 1000 {
			t.Errorf("%s: gc.get_freeze_count() = %q in a request, want the app's objects frozen (thousands)", what, body)
		}
	}

	sock := filepath.Join(dir, "g.sock")
	g := startMaster(t, dir, "--socket", sock, "--module", "fwsgi", "--processes", "1", "--gevent", "10",
		"--python-bin", py, "--chdir", dir, "--disable-logging")
	g.waitLog(`all workers ready`, 1)
	code, body := uwsgiGet(t, sock, "/")
	if code != 200 {
		t.Fatalf("gevent: %d %q", code, body)
	}
	frozen("gevent worker", body)

	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a := startMaster(t, dir, "--http-socket", httpAddr, "--asgi", "fasgi:app", "--processes", "1",
		"--python-bin", py, "--chdir", dir, "--disable-logging")
	a.waitLog(`all workers ready`, 1)
	code, body = get(t, "http://"+httpAddr+"/")
	if code != 200 {
		t.Fatalf("asgi: %d %q", code, body)
	}
	frozen("ASGI worker", body)
}
