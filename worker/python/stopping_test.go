package python_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A worker that is stopping (a reload or SIGTERM set it to stop and woke
// its threads) still answers an http-socket connection it has already
// accepted: the kernel handed that connection to this worker alone, so
// closing it unanswered would fail a request during every reload.
func TestStoppingWorkerAnswersAConnectionItAccepted(t *testing.T) {
	dir := runtimeDir(t)
	script := `
import os, socket, sys
sys.path.insert(0, sys.argv[1])
import worker as w
def app(environ, start_response):
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
wk = w.Worker(app, "t")
wk.board = w.NoScoreboard()
wk.local.board = wk.board.core(0)
wk.local.logbuf = []
conn, client = socket.socketpair()
client.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
wk.stopping = True
os.write(wk.wake_w, b"x")  # what stop() does
wk.serve_http(conn, ("127.0.0.1", 1), 0, None)
conn.close()
sys.stdout.write(client.recv(4096).decode("latin-1"))
`
	out, err := exec.Command(python3, "-c", script, dir).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "HTTP/1.1 200 OK") {
		t.Fatalf("a stopping worker closed an accepted connection unanswered: %v\n%s", err, out)
	}
}
