package python_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
	"github.com/supervise-go/supervise/worker/python"
)

// uwsgiRaw sends a raw uwsgi packet and returns what the worker answered
// before it closed the connection.
func (w *pyWorker) uwsgiRaw(t *testing.T, pkt []byte) string {
	t.Helper()
	conn, err := net.Dial("unix", w.uwsgi)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	conn.Write(pkt)
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func varsPacket(t *testing.T, n int) []byte {
	t.Helper()
	vars := []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"}, {Key: "PATH_INFO", Value: "/many"},
		{Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}}
	for i := len(vars); i < n; i++ {
		vars = append(vars, uwsgi.Var{Key: fmt.Sprintf("HTTP_X_H_%03d", i), Value: "v"})
	}
	pkt, err := uwsgi.AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatal(err)
	}
	return pkt
}

// uWSGI takes 2 x max-vars vars (128 by default) and drops a request with
// one more; max-vars moves the limit.
func TestUwsgiMaxVars(t *testing.T) {
	w := startWorker(t, countingApp, nil)
	if out := w.uwsgiRaw(t, varsPacket(t, 128)); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("128 vars: %q", out)
	}
	if out := w.uwsgiRaw(t, varsPacket(t, 129)); out != "" {
		t.Fatalf("129 vars answered %q, want the connection closed", out)
	}
	w.waitLog(t, "more than 128 vars in a uwsgi request (max-vars = 64")
	w2 := startWorker(t, countingApp, nil, ipc.EnvMaxVars+"=100")
	if out := w2.uwsgiRaw(t, varsPacket(t, 200)); !strings.HasPrefix(out, "HTTP/1.1 200") {
		t.Fatalf("200 vars with max-vars 100: %q", out)
	}
	if out := w2.uwsgiRaw(t, varsPacket(t, 201)); out != "" {
		t.Fatalf("201 vars with max-vars 100 answered %q", out)
	}
}

// An empty vars block is skipped, as uWSGI does ("Empty python request.
// skip."): no app call, no response, the connection closed.
func TestUwsgiEmptyVarsBlockIsSkipped(t *testing.T) {
	w := startWorker(t, countingApp, nil)
	if out := w.uwsgiRaw(t, []byte{0, 0, 0, 0}); out != "" {
		t.Fatalf("an empty vars block answered %q", out)
	}
	w.waitLog(t, "empty uwsgi vars block")
	if got := w.servedPaths(t); len(got) != 0 {
		t.Fatalf("the app ran for an empty vars block: %v", got)
	}
}

const splittingApp = `
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/value":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Echo", "a\r\nSet-Cookie: evil=1")])
    elif path == "/name":
        start_response("200 OK", [("X-Bad\r\nSet-Cookie: evil", "1")])
    elif path == "/status":
        start_response("200 OK\r\nSet-Cookie: evil=1", [("Content-Type", "text/plain")])
    elif path == "/nul":
        start_response("200 OK", [("X-Nul", "a\x00b")])
    else:
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Tab", "a\tb")])
    return [b"app body"]
`

// Response splitting: a CR, LF or other control character the app puts in
// its status or a header never reaches the client; it gets a 500, and the
// log one line (no traceback), on both protocols.
func TestResponseHeadersWithControlCharactersAre500(t *testing.T) {
	w := startWorker(t, splittingApp, nil)
	for _, path := range []string{"/value", "/name", "/status", "/nul"} {
		resp, body := w.uwsgiDo(t, "GET", path, nil)
		if resp.StatusCode != 500 || resp.Header.Get("Set-Cookie") != "" || strings.Contains(body, "app body") {
			t.Errorf("uwsgi %s: %d %v %q", path, resp.StatusCode, resp.Header, body)
		}
		resp, err := http.Get("http://" + w.http + path)
		if err != nil {
			t.Fatalf("http %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || resp.Header.Get("Set-Cookie") != "" || strings.Contains(string(b), "app body") {
			t.Errorf("http %s: %d %v %q", path, resp.StatusCode, resp.Header, b)
		}
	}
	if resp, body := w.uwsgiDo(t, "GET", "/ok", nil); resp.StatusCode != 200 || resp.Header.Get("X-Tab") != "a\tb" || body != "app body" {
		t.Fatalf("a tab in a value is fine: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	w.waitLog(t, `header X-Nul value`)
	log := w.log.String()
	if n := strings.Count(log, "refused the app's response"); n != 8 {
		t.Errorf("%d refusal lines for 8 refused responses:\n%s", n, log)
	}
	if strings.Contains(log, "Traceback") {
		t.Errorf("a refused header logged a traceback:\n%s", log)
	}
}

// A worker whose app fails to load (without need-app) still becomes ready,
// tells the master NOAPP=1 with the reason, says why in its log once, and
// answers every request at once with uWSGI's 500.
func TestNoAppAnswers500AtOnce(t *testing.T) {
	w := startWorker(t, "raise RuntimeError('boom at import')\n", nil, ipc.EnvPyFromPath+"=1")
	if w.notified[ipc.NotifyNoApp] != "1" || !strings.Contains(w.notified["STATUS"], "no app loaded: module=testapp (RuntimeError: boom at import)") {
		t.Fatalf("notified %v", w.notified)
	}
	for i := 0; i < 3; i++ {
		resp, body := w.uwsgiDo(t, "GET", "/", nil)
		if resp.StatusCode != 500 || body != "Internal Server Error" {
			t.Fatalf("uwsgi: %d %q", resp.StatusCode, body)
		}
		resp, err := http.Get("http://" + w.http + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || string(b) != "Internal Server Error" {
			t.Fatalf("http: %d %q", resp.StatusCode, b)
		}
	}
	w.waitLog(t, "status=500")
	log := w.log.String()
	if n := strings.Count(log, "no app loaded: every request gets 500"); n != 1 {
		t.Errorf("%d 'no app loaded' lines, want 1:\n%s", n, log)
	}
	if !strings.Contains(log, "python3 from PATH") || !strings.Contains(log, "python-bin") || !strings.Contains(log, "python="+python3) {
		t.Errorf("the log does not say which interpreter ran and how to choose another:\n%s", log)
	}
}

// On a Python older than the worker's floor it exits with the
// app-load-failed code and says what to do, instead of failing later.
func TestTooOldPythonExits22(t *testing.T) {
	old := "/root/.pyenv/versions/3.6.15/bin/python3"
	if p := os.Getenv("SUPERVISE_TEST_OLD_PYTHON"); p != "" {
		old = p
	}
	if _, err := os.Stat(old); err != nil {
		t.Skip("no Python older than the floor (set SUPERVISE_TEST_OLD_PYTHON)")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, python.FileName)
	if _, err := python.WriteAll(filepath.Dir(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(old, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SUPERVISE_WORKER_ID=3")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != ipc.ExitAppLoadFailed {
		t.Fatalf("exit %d, want %d\n%s", code, ipc.ExitAppLoadFailed, out)
	}
	if !strings.Contains(string(out), "too old for supervise's worker: it needs Python 3.7 or newer") {
		t.Fatalf("unclear message:\n%s", out)
	}
}
