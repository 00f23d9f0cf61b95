package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// seedStack writes the seed's app.py and myapp.ini into dir with only the
// socket path changed, as the issue allows.
func seedStack(t *testing.T, dir string) (ini, sock string) {
	t.Helper()
	sock = filepath.Join(dir, "uwsgi.sock")
	writeFile(t, filepath.Join(dir, "app.py"), seedFile(t, "app.py"))
	ini = filepath.Join(dir, "myapp.ini")
	writeFile(t, ini, strings.Replace(seedFile(t, "myapp.ini"), "/tmp/uwsgi.sock", sock, 1))
	return ini, sock
}

func TestSeedStackBehindNginx(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	ini, sock := seedStack(t, dir)
	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready`, 1)

	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, want chmod-socket's 0666", fi.Mode().Perm())
	}
	if n := len(m.workerPids()); n != 4 {
		t.Errorf("%d workers, want processes = 4", n)
	}
	if lines := m.waitLog(`ready: .*threads=2`, 4); len(lines) != 4 {
		t.Errorf("workers with 2 threads: %d, want 4", len(lines))
	}

	base := startNginx(t, dir, "unix:"+sock)
	for path, want := range map[string]string{
		"/":         "Hello from Python, Nginx, and uWSGI!",
		"/user/bob": "User: bob",
	} {
		code, body := get(t, base+path)
		if code != 200 || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", path, code, body, want)
		}
	}
	code, _ := get(t, base+"/nope")
	if code != 404 {
		t.Errorf("GET /nope = %d, want Flask's 404", code)
	}
	m.waitLog(`request: method=GET path=/user/bob status=200`, 1)

	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

const echoApp = `
import hashlib, os, time
LEAK = []
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        fifo = environ.get("QUERY_STRING")
        if fifo:
            with open(fifo, "w") as f:
                f.write("started\n")
        time.sleep(0.5)
        body = b"slow done"
    elif path == "/hang":
        time.sleep(30)
        body = b"woke up"
    elif path == "/pid":
        body = str(os.getpid()).encode()
    elif path == "/wait":  # until the file named by the query exists
        while not os.path.exists(environ["QUERY_STRING"]):
            time.sleep(0.01)
        body = str(os.getpid()).encode()
    elif path == "/leak":  # keep QUERY_STRING MB for the life of the worker
        mb = int(environ["QUERY_STRING"])
        LEAK.append(bytearray(os.urandom(1024)) * (mb * 1024))
        body = str(os.getpid()).encode()
    else:
        data = environ["wsgi.input"].read()
        body = ("%d %s" % (len(data), hashlib.sha256(data).hexdigest())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

func startEcho(t *testing.T, extra ...string) (m *masterProc, dir, sock string) {
	t.Helper()
	py := debianPython(t)
	dir = shortTempDir(t)
	sock = filepath.Join(dir, "app.sock")
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	args := append([]string{"--socket", sock, "--module", "echo", "--processes", "2",
		"--threads", "2", "--python-bin", py, "--chdir", dir}, extra...)
	m = startMaster(t, dir, args...)
	m.waitLog(`all workers ready`, 1)
	return m, dir, sock
}

func TestPostBodyArrivesIntact(t *testing.T) {
	parallel(t)
	_, dir, sock := startEcho(t)
	base := startNginx(t, dir, "unix:"+sock)
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	body[12345] = 'X'
	resp, err := http.Post(base+"/upload", "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	sum := sha256.Sum256(body)
	want := fmt.Sprintf("%d %s", len(body), hex.EncodeToString(sum[:]))
	if string(got) != want {
		t.Fatalf("echo = %q, want %q", got, want)
	}
}

func TestKilledWorkerIsReplaced(t *testing.T) {
	parallel(t)
	m, dir, sock := startEcho(t)
	base := startNginx(t, dir, "unix:"+sock)
	pids := m.workerPids()
	if len(pids) != 2 {
		t.Fatalf("workers %v, want 2", pids)
	}
	syscall.Kill(pids[0], syscall.SIGKILL)
	m.waitLog(`worker died: .*status="killed by SIGKILL"`, 1)
	m.waitLog(`spawned worker`, 3)
	m.waitLog(`ready: `, 3)
	for i := 0; i < 20; i++ {
		if code, _ := get(t, base+"/pid"); code != 200 {
			t.Fatalf("request %d after the kill: status %d", i, code)
		}
	}
	now := m.workerPids()
	if len(now) != 2 || now[0] == pids[0] && now[1] == pids[0] {
		t.Fatalf("workers after the kill %v (killed %d)", now, pids[0])
	}
}

func TestSIGTERMLetsInFlightRequestsFinish(t *testing.T) {
	parallel(t)
	m, dir, sock := startEcho(t)
	base := startNginx(t, dir, "unix:"+sock)
	fifo := filepath.Join(dir, "started.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	done := getAsync(base + "/slow?" + fifo)
	started, err := os.ReadFile(fifo) // blocks until the app is inside the request
	if err != nil || string(started) != "started\n" {
		t.Fatalf("fifo: %q %v", started, err)
	}
	m.signal(syscall.SIGTERM)
	r := <-done
	if r.err != nil || r.code != 200 || r.body != "slow done" {
		t.Fatalf("in-flight request during SIGTERM: %d %q %v", r.code, r.body, r.err)
	}
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d, want 0", code)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Logf("socket removed without vacuum: %v", err)
	}
}

func TestKill9OfTheMasterLeavesNoWorker(t *testing.T) {
	parallel(t)
	m, _, _ := startEcho(t)
	pids := m.workerPids()
	if len(pids) != 2 {
		t.Fatalf("workers %v", pids)
	}
	m.signal(syscall.SIGKILL)
	m.waitExit()
	waitGone(t, pids, time.Second) // the lifeline: workers notice at once
}

func TestVacuumRemovesSocketAndPidfile(t *testing.T) {
	parallel(t)
	pidfile := filepath.Join(shortTempDir(t), "app.pid")
	m, _, sock := startEcho(t, "--vacuum", "--pidfile", pidfile)
	raw, err := os.ReadFile(pidfile)
	if err != nil || strings.TrimSpace(string(raw)) != fmt.Sprint(m.cmd.Process.Pid) {
		t.Fatalf("pidfile holds %q (%v), want the master's pid %d", raw, err, m.cmd.Process.Pid)
	}
	m.signal(syscall.SIGTERM)
	m.waitExit()
	for _, p := range []string{sock, pidfile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists after a vacuum shutdown", p)
		}
	}
}

func TestOversizedPacketIsDroppedAndTheWorkerLives(t *testing.T) {
	parallel(t)
	m, _, sock := startEcho(t, "--processes", "1")
	before := m.workerPids()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	// Plain HTTP to a uwsgi socket reads as a 21573-byte vars block.
	conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(make([]byte, 100))
	if n != 0 || err != io.EOF {
		t.Fatalf("read after an oversized packet: n=%d err=%v, want the connection closed", n, err)
	}
	conn.Close()
	m.waitLog(`invalid request block size: 21573`, 1)
	dir := filepath.Dir(sock)
	base := startNginx(t, dir, "unix:"+sock)
	if code, _ := get(t, base+"/pid"); code != 200 {
		t.Fatalf("request after the bad packet: %d", code)
	}
	if after := m.workerPids(); len(after) != 1 || after[0] != before[0] {
		t.Fatalf("worker changed: before %v after %v", before, after)
	}
}

func TestBrokenAppWithNeedAppExits(t *testing.T) {
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "broken.py"), "import no_such_module_here\n")
	m := startMaster(t, dir, "--socket", filepath.Join(dir, "s.sock"), "--module", "broken",
		"--need-app", "--python-bin", py, "--chdir", dir)
	if code := m.waitExit(); code != 22 {
		t.Fatalf("exit code %d, want 22", code)
	}
	log := m.log()
	for _, want := range []string{"cannot load app", "no_such_module_here", "GAME OVER"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// Without need-app a worker whose app raises at import stays up and
// answers every request at once with uWSGI's 500, saying why once in the
// log (it used to exit and leave clients waiting through the backoff).
func TestBrokenAppWithoutNeedAppAnswers500(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "broken.py"), "raise RuntimeError('boom at import')\n")
	port := freePort(t)
	m := startMaster(t, dir, "--http-socket", fmt.Sprintf("127.0.0.1:%d", port), "--module", "broken",
		"--python-bin", py, "--chdir", dir)
	m.waitLog(`no app loaded: every request gets 500`, 1)
	for i := 0; i < 3; i++ {
		if code, body := get(t, fmt.Sprintf("http://127.0.0.1:%d/", port)); code != 500 || body != "Internal Server Error" {
			t.Fatalf("%d %q", code, body)
		}
	}
	m.waitLog(`boom at import`, 1)
	if strings.Contains(m.log(), "backing off") {
		t.Error("the worker without an app was respawned")
	}
	if strings.Contains(m.log(), "python3 from PATH") {
		t.Error("python-bin was set, yet the log blames python3 from PATH")
	}
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// With neither home nor python-bin, an import failure says which
// interpreter ran and how to choose another.
func TestImportFailureWithPython3FromPathNamesIt(t *testing.T) {
	parallel(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on PATH")
	}
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "needsflask.py"), "import no_such_framework_here\n")
	m := startMaster(t, dir, "--socket", filepath.Join(dir, "s.sock"), "--module", "needsflask", "--chdir", dir)
	m.waitLog(`loaded by python3 from PATH; if it needs another interpreter .* set home .* or python-bin: python=/`, 1)
	m.waitLog(`no_such_framework_here`, 1)
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestIgnoredOptionsGetANoticeAndStart(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nplugins = python3\nenable-threads = true\nhttp-socket = 127.0.0.1:%d\nprocesses = 1\n", freePort(t)))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready`, 1)
	log := m.log()
	for _, want := range []string{"plugins", "enable-threads"} {
		if !strings.Contains(log, want) {
			t.Errorf("no notice for %s", want)
		}
	}
}

func TestUnknownFlagNamesTheClosestOption(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"--proceses", "4"}, nil, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--processes") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestHelpListsTheOptions(t *testing.T) {
	var out bytes.Buffer
	printUsage(&out)
	for _, want := range []string{"supervise reload", "--socket (s)", "--uwsgi-socket", "--http11-socket", "--processes (workers, p)", "--master-fifo"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if code, done := helpOrVersion([]string{"--help"}, &out, &out); !done || code != 0 {
		t.Fatal("--help not handled")
	}
}

func TestMissingInterpreterIsAClearError(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, "--socket", filepath.Join(dir, "s.sock"), "--python-bin", "/nonexistent/python3")
	if code := m.waitExit(); code == 0 {
		t.Fatal("started without an interpreter")
	}
	if !strings.Contains(m.log(), "python-bin") {
		t.Fatal("the error does not name python-bin")
	}
}

func TestCheckVerb(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	ini, _ := seedStack(t, dir)
	out := func(args ...string) (int, string, string) {
		cmd := exec.Command(os.Args[0], append([]string{"check", "--no-import"}, args...)...) // check_test.go tests the import
		cmd.Env = append(os.Environ(), envRunMain+"=1")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	code, stdout, stderr := out("--ini", ini, "--python-bin", "/bin/sh")
	if code != 0 || !strings.Contains(stdout, "4 processes x 2 threads") || !strings.Contains(stdout, "configuration OK") {
		t.Fatalf("check seed: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = out("--json", "--ini", ini, "--python-bin", "/bin/sh")
	var cfg struct {
		UWSGI struct{ Processes, Threads int } `json:"uwsgi"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &cfg) != nil || cfg.UWSGI.Processes != 4 || cfg.UWSGI.Threads != 2 {
		t.Fatalf("check --json: %d %q", code, stdout)
	}
	writeFile(t, filepath.Join(dir, "bad.ini"), "[uwsgi]\nprocesses = many\n")
	if code, _, stderr := out("--ini", filepath.Join(dir, "bad.ini")); code == 0 || !strings.Contains(stderr, "processes") {
		t.Fatalf("check of a broken ini: %d %q", code, stderr)
	}
	writeFile(t, filepath.Join(dir, "notice.ini"), "[uwsgi]\nsocket = /tmp/x.sock\nplugins = python3\n")
	if code, _, stderr := out("--ini", filepath.Join(dir, "notice.ini"), "--python-bin", "/bin/sh"); code != 0 || !strings.Contains(stderr, "notice: plugins") {
		t.Fatalf("check with a notice: %d %q", code, stderr)
	}
}
