package python_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
	"github.com/supervise-go/supervise/worker/python"
)

// These tests run worker.py the way the master does, without a master:
// real sockets on fds 3 and 4, a lifeline on fd 5, a notify socket.

// python3 is the interpreter under test: Debian's, or SUPERVISE_TEST_PYTHON
// (to run these tests on the oldest Python the worker supports).
var python3 = func() string {
	if p := os.Getenv("SUPERVISE_TEST_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}()

// needPython skips tb without python3 (fails it under
// SUPERVISE_TEST_REQUIRE=1, as in CI).
func needPython(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(python3); err != nil {
		if os.Getenv("SUPERVISE_TEST_REQUIRE") == "1" {
			tb.Fatal("python3 missing")
		}
		tb.Skip("no " + python3)
	}
}

// runtimeDir is a temporary directory holding every embedded Python
// file, as a master writes them (needPython first).
func runtimeDir(tb testing.TB) string {
	tb.Helper()
	needPython(tb)
	dir := tb.TempDir()
	if _, err := python.WriteAll(dir, 0o600); err != nil {
		tb.Fatal(err)
	}
	return dir
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type pyWorker struct {
	cmd      *exec.Cmd
	log      *syncBuffer
	uwsgi    string // unix socket path
	http     string // host:port
	lifeline *os.File
	done     chan struct{}
	notified map[string]string // the fields of its READY=1 message
}

func startWorker(t *testing.T, app string, extraArgs []string, env ...string) *pyWorker {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a Python worker: skipped under -short (scripts/test runs it)")
	}
	needPython(t)
	dir, err := os.MkdirTemp("/tmp", "pyw-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script := filepath.Join(dir, python.FileName)
	if _, err := python.WriteAll(filepath.Dir(script), 0o600); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "testapp.py"), []byte(app), 0o600)
	ul, err := net.Listen("unix", filepath.Join(dir, "u.sock"))
	if err != nil {
		t.Fatal(err)
	}
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ul.(*net.UnixListener).SetUnlinkOnClose(false)
	uf, _ := ul.(*net.UnixListener).File()
	hf, _ := hl.(*net.TCPListener).File()
	ul.Close()
	hl.Close()
	lr, lw, _ := os.Pipe()
	notify, err := ipc.ListenNotify(filepath.Join(dir, "notify.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	w := &pyWorker{log: &syncBuffer{}, uwsgi: filepath.Join(dir, "u.sock"), http: hl.Addr().String(), lifeline: lw, done: make(chan struct{})}
	w.cmd = exec.Command(python3, append(extraArgs, script)...)
	w.cmd.Dir = dir
	w.cmd.ExtraFiles = []*os.File{uf, hf, lr}
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	w.cmd.Env = append(os.Environ(), "LISTEN_FDS=2", "LISTEN_FDNAMES=uwsgi:http", "SUPERVISE_LIFELINE_FD=5",
		"NOTIFY_SOCKET="+notify.Path, "SUPERVISE_WORKER_ID=1", "SUPERVISE_THREADS=2",
		"SUPERVISE_PY_MODULE=testapp", "SUPERVISE_PY_CALLABLE=application")
	w.cmd.Env = append(w.cmd.Env, env...)
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The master keeps its copy of the listening sockets for its whole
	// life; so does the test, until it ends.
	t.Cleanup(func() { uf.Close() })
	hf.Close()
	lr.Close()
	go func() { w.cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		w.cmd.Process.Kill()
		<-w.done
		lw.Close()
		if t.Failed() {
			t.Logf("worker log:\n%s", w.log.String())
		}
	})
	ready := make(chan error, 1)
	go func() {
		n, err := notify.Receive()
		if err == nil && n.Fields["READY"] != "1" {
			err = fmt.Errorf("notified %v", n.Fields)
		}
		if err == nil {
			w.notified = n.Fields
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-w.done:
		t.Fatalf("worker exited before READY=1:\n%s", w.log.String())
	case <-time.After(30 * time.Second):
		t.Fatal("no READY=1")
	}
	return w
}

// waitLog waits until the worker's log holds want: its lines travel
// through a pipe and a copying goroutine, so they can trail a response.
func (w *pyWorker) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(w.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the worker never logged %q:\n%s", want, w.log.String())
		}
		time.Sleep(5 * time.Millisecond) // a bytes.Buffer has no change event
	}
}

func (w *pyWorker) uwsgiDo(t *testing.T, method, uri string, body []byte) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("unix", w.uwsgi)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path, query, _ := strings.Cut(uri, "?")
	var vars []uwsgi.Var
	for _, kv := range [][2]string{{"REQUEST_METHOD", method}, {"REQUEST_URI", uri}, {"PATH_INFO", path},
		{"QUERY_STRING", query}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"SERVER_NAME", "test"},
		{"SERVER_PORT", "80"}, {"REMOTE_ADDR", "127.0.0.1"}, {"CONTENT_LENGTH", fmt.Sprint(len(body))},
		{"CONTENT_TYPE", "application/octet-stream"}, {"HTTP_CONTENT_TYPE", "application/octet-stream"}} {
		vars = append(vars, uwsgi.Var{Key: kv[0], Value: kv[1]})
	}
	pkt, err := uwsgi.AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(append(pkt, body...))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const testApp = `
import os, time
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise ValueError("boom in the app")
    if path == "/file":
        f = open(__file__, "rb")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(os.fstat(f.fileno()).st_size))])
        return environ["wsgi.file_wrapper"](f)
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"and returned"]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"chunk%d " % i for i in range(3))
    data = environ["wsgi.input"].read()
    body = b"%s %s %d %s" % (environ["REQUEST_METHOD"].encode(), path.encode(), len(data), data[:20])
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

func TestUwsgiRequests(t *testing.T) {
	w := startWorker(t, testApp, nil)
	resp, body := w.uwsgiDo(t, "POST", "/echo?x=1", []byte("hello"))
	if resp.StatusCode != 200 || body != "POST /echo 5 hello" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	resp, body = w.uwsgiDo(t, "GET", "/write", nil)
	if body != "written and returned" {
		t.Fatalf("write(): %q", body)
	}
	resp, body = w.uwsgiDo(t, "GET", "/file", nil)
	if !strings.Contains(body, "def application") {
		t.Fatalf("file_wrapper: %q", body)
	}
	resp, body = w.uwsgiDo(t, "GET", "/raise", nil)
	if resp.StatusCode != 500 {
		t.Fatalf("raising app: %d", resp.StatusCode)
	}
	w.waitLog(t, "ValueError: boom in the app")
	w.waitLog(t, "the app raised: method=GET path=/raise")
	w.waitLog(t, "request: method=POST path=\"/echo?x=1\" status=200")
}

func TestBadUwsgiPacketsAreDropped(t *testing.T) {
	w := startWorker(t, testApp, nil, "SUPERVISE_WORKER_ID=7")
	for name, raw := range map[string][]byte{
		"plain http": []byte("GET / HTTP/1.1\r\n\r\n"),
		"modifier 5": {5, 5, 0, 0, 1, 0, 'a', 0, 0},
		"empty key":  {0, 6, 0, 0, 0, 0, 1, 0, 'x', 0},
		"truncated":  {0, 100, 0, 0, 1},
	} {
		conn, err := net.Dial("unix", w.uwsgi)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write(raw)
		if name == "truncated" {
			conn.(*net.UnixConn).CloseWrite()
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := conn.Read(make([]byte, 10))
		if n != 0 || err != io.EOF {
			t.Fatalf("%s: read %d %v, want a closed connection", name, n, err)
		}
		conn.Close()
	}
	if resp, _ := w.uwsgiDo(t, "GET", "/", nil); resp.StatusCode != 200 {
		t.Fatal("the worker stopped serving after bad packets")
	}
	for _, want := range []string{"invalid request block size: 21573 (max 4096)", "modifier1 5", "malformed uwsgi vars"} {
		w.waitLog(t, want)
	}
}

func TestHTTPKeepAliveChunkedAndHead(t *testing.T) {
	w := startWorker(t, testApp, nil)
	conn, err := net.Dial("tcp", w.http)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	send := func(req string) *http.Response {
		t.Helper()
		conn.Write([]byte(req))
		resp, err := http.ReadResponse(r, &http.Request{Method: strings.Fields(req)[0]})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	read := func(resp *http.Response) string {
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if b := read(send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n")); b != "GET /one 0 " {
		t.Fatalf("first: %q", b)
	}
	if b := read(send("POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")); b != "POST /two 3 abc" {
		t.Fatalf("second on the same connection: %q", b)
	}
	if b := read(send("POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")); b != "POST /chunked 5 abcde" {
		t.Fatalf("chunked body: %q", b)
	}
	resp := send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	if b := read(resp); b != "chunk0 chunk1 chunk2 " || resp.TransferEncoding == nil {
		t.Fatalf("streamed: %q %v", b, resp.TransferEncoding)
	}
	resp = send("HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n")
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != int64(len("HEAD /head 0 ")) {
		t.Fatalf("HEAD: %d %d", resp.StatusCode, resp.ContentLength)
	}
	if b := read(send("GET /after-head HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); b != "GET /after-head 0 " {
		t.Fatalf("after HEAD: %q", b)
	}
}

func TestHTTPBadRequests(t *testing.T) {
	w := startWorker(t, testApp, nil)
	for req, want := range map[string]int{
		"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 10000) + "\r\n\r\n": 431,
		"NONSENSE\r\n\r\n": 400,
		"GET / HTTP/1.1\r\nContent-Length: -4\r\n\r\n": 400,
	} {
		conn, err := net.Dial("tcp", w.http)
		if err != nil {
			t.Fatal(err)
		}
		conn.Write([]byte(req))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != want {
			t.Errorf("%.30q: %v %v, want %d", req, resp, err, want)
		}
		conn.Close()
	}
}

func TestValidatedAppRunsWithoutWarnings(t *testing.T) {
	app := `
from wsgiref.validate import validator
def inner(environ, start_response):
    environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
application = validator(inner)
`
	w := startWorker(t, app, []string{"-W", "error"})
	if resp, body := w.uwsgiDo(t, "POST", "/v?q=1", []byte("data")); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("uwsgi: %d %q\n%s", resp.StatusCode, body, w.log.String())
	}
	resp, err := http.Get("http://" + w.http + "/v")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("http: %d\n%s", resp.StatusCode, w.log.String())
	}
	// A chunked body is read before the app runs; the app gets a file
	// and an exact CONTENT_LENGTH.
	resps, bodies := w.exchange(t, "POST /v HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if len(resps) != 1 || resps[0].StatusCode != 200 || bodies[0] != "ok" {
		t.Fatalf("chunked: %v %q\n%s", resps, bodies, w.log.String())
	}
	if strings.Contains(w.log.String(), "Warning") || strings.Contains(w.log.String(), "Traceback") {
		t.Fatalf("the validator complained:\n%s", w.log.String())
	}
}

func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	app := `
import time
def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        open(environ["QUERY_STRING"], "w").write("in\n")
        time.sleep(0.3)
    start_response("200 OK", [("Content-Length", "4")])
    return [b"done"]
`
	w := startWorker(t, app, nil)
	fifo := filepath.Join(t.TempDir(), "fifo")
	syscall.Mkfifo(fifo, 0o600)
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + w.http + "/slow?" + fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	os.ReadFile(fifo) // the request is inside the app
	w.cmd.Process.Signal(syscall.SIGTERM)
	if b := <-got; b != "done" {
		t.Fatalf("in-flight request: %q", b)
	}
	<-w.done
	if code := w.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
}

func TestLifelineEOFEndsTheWorker(t *testing.T) {
	w := startWorker(t, testApp, nil)
	w.lifeline.Close()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker outlived its lifeline")
	}
	w.waitLog(t, "lifeline closed")
}

func TestImportErrorWithNeedAppExits22(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	script := filepath.Join(dir, python.FileName)
	if _, err := python.WriteAll(filepath.Dir(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python3, script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SUPERVISE_PY_MODULE=does_not_exist", "SUPERVISE_WORKER_ID=2", ipc.EnvNeedApp+"=1")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != ipc.ExitAppLoadFailed {
		t.Fatalf("exit %d, want %d\n%s", code, ipc.ExitAppLoadFailed, out)
	}
	if !strings.Contains(string(out), "[ERROR] worker.2: cannot load app") || !strings.Contains(string(out), "No module named 'does_not_exist'") {
		t.Fatalf("unclear error:\n%s", out)
	}
}
