package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/stats"
	"github.com/supervise-go/supervise/worker"
)

// envHelper makes the test binary a worker: the master passes it with
// --env (the master strips SUPERVISE_* from workers' environment).
const envHelper = "SV_TEST_HELPER"

func runHelper(name string) int {
	switch name {
	case "goworker":
		log.Fatal(worker.Serve(goTestMux()))
	case "hostile":
		log.Fatal(worker.Serve(hostileMux()))
	case "formatapp":
		log.Fatal(worker.Serve(formatHandler()))
	default:
		if code, ok := runHealthHelper(name); ok {
			return code
		}
	}
	fmt.Fprintf(os.Stderr, "unknown test helper %q\n", name)
	return 2
}

func goTestMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "Hello from Go (worker %d)", worker.ID())
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, os.Getpid()) })
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {}) // net/http answers 200
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(data)
		fmt.Fprintf(w, "%d %s %s %s", len(data), hex.EncodeToString(sum[:]), r.Header.Get("X-Test"), r.Host)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		if fifo := r.URL.RawQuery; fifo != "" {
			os.WriteFile(fifo, []byte("started\n"), 0)
		}
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, "slow done")
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("boom in a handler") })
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "part%d ", i)
			w.(http.Flusher).Flush()
		}
	})
	return mux
}

func startGoWorkers(t *testing.T, extra ...string) (m *masterProc, dir, sock string) {
	t.Helper()
	dir = shortTempDir(t)
	sock = filepath.Join(dir, "go.sock")
	args := append([]string{"--socket", sock, "--processes", "2", "--threads", "4",
		"--env", envHelper + "=goworker"}, extra...)
	args = append(args, "--", os.Args[0])
	m = startMaster(t, dir, args...)
	m.waitLog(`all workers ready`, 1)
	return m, dir, sock
}

func TestGoWorkerBehindNginx(t *testing.T) {
	parallel(t)
	m, dir, sock := startGoWorkers(t)
	base := startNginx(t, dir, "unix:"+sock)
	if code, body := get(t, base+"/"); code != 200 || !strings.HasPrefix(body, "Hello from Go (worker ") {
		t.Fatalf("GET / = %d %q", code, body)
	}
	body := bytes.Repeat([]byte("go!"), 400_000)
	req, _ := http.NewRequest("POST", base+"/echo", bytes.NewReader(body))
	req.Header.Set("X-Test", "yes")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	sum := sha256.Sum256(body)
	// Debian's uwsgi_params sends HTTP_HOST as $host: the name without the port.
	if want := fmt.Sprintf("%d %s yes 127.0.0.1", len(body), hex.EncodeToString(sum[:])); string(got) != want {
		t.Fatalf("echo = %q, want %q", got, want)
	}
	if code, _ := get(t, base+"/panic"); code != 500 {
		t.Fatalf("panic: %d", code)
	}
	if code, body := get(t, base+"/stream"); code != 200 || body != "part0 part1 part2 " {
		t.Fatalf("stream: %d %q", code, body)
	}
	m.waitLog(`the handler panicked`, 1)
	if len(m.workerPids()) != 2 {
		t.Fatal("a panic cost a worker")
	}
	m.waitLog(`request: method=GET path=/stream status=200`, 1)
}

func TestGoWorkerOverHTTPSocketCountsInStats(t *testing.T) {
	parallel(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, shortTempDir(t), "--http-socket", addr, "--processes", "2", "--stats", statsAddr,
		"--env", envHelper+"=goworker", "--", os.Args[0])
	m.waitLog(`all workers ready`, 1)
	for i := 0; i < 5; i++ {
		if code, _ := get(t, "http://"+addr+"/pid"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	st, _, err := stats.Fetch(statsAddr)
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, w := range st.Workers {
		total += w.Requests
	}
	if total != 5 {
		t.Fatalf("stats count %d requests, want 5", total)
	}
}

func TestGoWorkerKillAndDrain(t *testing.T) {
	parallel(t)
	m, dir, sock := startGoWorkers(t)
	base := startNginx(t, dir, "unix:"+sock)
	pids := m.workerPids()
	syscall.Kill(pids[0], syscall.SIGKILL)
	m.waitLog(`spawned worker`, 3)
	m.waitLog(`all workers ready`, 1)
	if code, _ := get(t, base+"/pid"); code != 200 {
		t.Fatal("not serving after a kill")
	}
	fifo := filepath.Join(dir, "fifo")
	syscall.Mkfifo(fifo, 0o666)
	done := make(chan string, 1)
	go func() {
		_, body := get(t, base+"/slow?"+fifo)
		done <- body
	}()
	os.ReadFile(fifo)
	m.signal(syscall.SIGTERM)
	if body := <-done; body != "slow done" {
		t.Fatalf("in-flight request during SIGTERM: %q", body)
	}
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// A third-party program that follows systemd's socket activation to the
// letter: it refuses sockets whose LISTEN_PID is not its own pid, and it
// never notifies, so ready-timeout applies.
const socketActivated = `
import os, socket, sys
from http.server import HTTPServer, BaseHTTPRequestHandler
if os.environ.get("LISTEN_PID") != str(os.getpid()):
    sys.exit("LISTEN_PID %r is not my pid %d" % (os.environ.get("LISTEN_PID"), os.getpid()))
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"activated %d" % os.getpid()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(HTTPServer):
    def server_bind(self): pass
    def server_activate(self): pass
srv = S(("", 0), H, bind_and_activate=False)
srv.socket = socket.socket(fileno=3)
srv.serve_forever()
`

func TestSocketActivatedProgramGetsItsOwnListenPid(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3", "-c", "pass")
	dir := shortTempDir(t)
	script := filepath.Join(dir, "activated.py")
	writeFile(t, script, socketActivated)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, dir, "--http-socket", addr, "--ready-timeout", "1", "--", py, script)
	m.waitLog(`never sent READY=1; taking it as ready`, 1)
	m.waitLog(`all workers ready`, 1)
	if code, body := get(t, "http://"+addr+"/"); code != 200 || !strings.HasPrefix(body, "activated ") {
		t.Fatalf("%d %q", code, body)
	}
}

func TestMissingBinaryIsAClearError(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, "--socket", filepath.Join(dir, "s.sock"), "--", "/nonexistent/app")
	if code := m.waitExit(); code == 0 {
		t.Fatal("started without its program")
	}
	if !strings.Contains(m.log(), `exec "/nonexistent/app"`) {
		t.Fatalf("unclear error:\n%s", m.log())
	}
}

func TestGoWorkerAloneServesOnPORT(t *testing.T) {
	port := freePort(t)
	cmd := execHelper(t, "goworker", fmt.Sprintf("PORT=%d", port))
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); code != 200 || body != "Hello from Go (worker 0)" {
		t.Fatalf("%d %q", code, body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("standalone exit after SIGTERM: %v", err)
	}
}

func TestCrashingBinaryBacksOffInsteadOfSpinning(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	m := startMaster(t, dir, "--socket", filepath.Join(dir, "s.sock"), "--", "/bin/false")
	m.waitLog(`worker keeps failing; backing off: id=1 failures=2 next_start_in=100ms`, 1)
	m.waitLog(`worker keeps failing; backing off: id=1 failures=4 next_start_in=400ms`, 1)
	if n := len(m.waitLog(`spawned worker`, 4)); n > 6 {
		t.Fatalf("%d starts before the fourth failure: spinning", n)
	}
}
