package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/worker"
)

// runHealthHelper runs the workers the health tests need:
//   - "hold": the Go test worker plus /hold?FIFO, which writes to the FIFO
//     (the test knows the request is in flight) and answers after 3 s;
//   - "noapp": a Python worker whose import failed without need-app, as
//     pyhttp's worker says it: READY=1, NOAPP=1, STATUS=no app loaded: ...;
//   - "neverready": a program that never notifies.
func runHealthHelper(name string) (int, bool) {
	switch name {
	case "hold":
		mux := goTestMux().(*http.ServeMux)
		mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) {
			os.WriteFile(r.URL.RawQuery, []byte("started\n"), 0)
			time.Sleep(3 * time.Second)
			fmt.Fprint(w, "held 3s")
		})
		if err := worker.Serve(mux); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1, true
		}
		return 0, true
	case "noapp", "neverready":
		ipc.WatchLifeline(ipc.ParseEnv(os.Environ()), func() { os.Exit(1) }) // never outlive the master
		if name == "noapp" {
			if err := ipc.Notify("READY=1\nNOAPP=1\nSTATUS=no app loaded: ModuleNotFoundError: No module named 'missing'"); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1, true
			}
		}
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		<-term
		return 0, true
	}
	return 0, false
}

// probe GETs a health path and returns its status, or 0 when nothing
// answered.
func probe(url string) (int, string) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 512)
	n, _ := resp.Body.Read(buf)
	b.Write(buf[:n])
	return resp.StatusCode, b.String()
}

func wantProbe(t *testing.T, url string, code int, body string) {
	t.Helper()
	if got, text := probe(url); got != code || !strings.Contains(text, body) {
		t.Fatalf("GET %s = %d %q, want %d with %q", url, got, text, code, body)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startHold starts Go workers that can hold a request 3 s, with the
// health option on a free port. It returns the master, the app's and the
// health URLs and a FIFO for /hold.
func startHold(t *testing.T, setup func(*exec.Cmd), extra ...string) (m *masterProc, app, health, fifo string) {
	t.Helper()
	dir := shortTempDir(t)
	app = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	health = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	fifo = filepath.Join(dir, "held.fifo")
	mkfifo(t, fifo)
	args := append([]string{"--http-socket", app, "--processes", "2", "--threads", "4", "--health", health,
		"--env", envHelper + "=hold"}, extra...)
	args = append(args, "--", os.Args[0])
	m = startMasterWith(t, dir, setup, args...)
	m.waitLog(`all workers ready`, 1)
	return m, "http://" + app, "http://" + health, fifo
}

// holdRequest starts GET /hold and returns once the worker has it.
func holdRequest(t *testing.T, app, fifo string) <-chan asyncResult {
	t.Helper()
	res := getAsync(app + "/hold?" + fifo)
	if _, err := os.ReadFile(fifo); err != nil { // blocks until the handler writes
		t.Fatal(err)
	}
	return res
}

// pollDrain probes /readyz and /healthz until the held request ends,
// failing if readiness is not 503 within a second of SIGTERM or ever
// comes back, or if liveness fails.
func pollDrain(t *testing.T, health string, sent time.Time, held <-chan asyncResult) asyncResult {
	t.Helper()
	first := time.Time{}
	for n := 0; ; n++ {
		select {
		case r := <-held:
			if first.IsZero() {
				t.Fatal("readiness never failed during the drain")
			}
			t.Logf("readiness failed %v after SIGTERM; %d probes during the drain", first.Sub(sent).Round(time.Millisecond), n)
			return r
		default:
		}
		code, body := probe(health + "/readyz")
		if code == 0 { // nothing answered: fine only if the drain just ended and the master left
			select {
			case r := <-held:
				if first.IsZero() {
					t.Fatal("readiness never failed during the drain")
				}
				return r
			case <-time.After(5 * time.Second):
				t.Fatalf("the health listener stopped answering during the drain: %s", body)
			}
		}
		switch {
		case code == 503 && first.IsZero():
			first = time.Now()
			if first.Sub(sent) > time.Second {
				t.Fatalf("readiness failed only %v after SIGTERM", first.Sub(sent))
			}
		case code == 200 && !first.IsZero():
			t.Fatalf("readiness came back during the drain: %q", body)
		case code == 200 && time.Since(sent) > time.Second:
			t.Fatalf("readiness still 200 %v after SIGTERM", time.Since(sent))
		case code != 200 && code != 503:
			t.Fatalf("GET /readyz during the drain = %d %q", code, body)
		}
		if code, body := probe(health + "/healthz"); code != 200 {
			t.Fatalf("liveness failed during the drain: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond) // the probe interval: what a kubelet does too
	}
}

func TestReadyzFailsAtSigtermAndStaysFailedThroughTheDrain(t *testing.T) {
	parallel(t)
	m, app, health, fifo := startHold(t, nil, "--shutdown-delay", "2", "--worker-reload-mercy", "10")
	wantProbe(t, health+"/readyz", 200, "all 2 workers ready")
	wantProbe(t, health+"/healthz", 200, "ok")
	wantProbe(t, health+"/", 404, "only")
	held := holdRequest(t, app, fifo)
	sent := time.Now()
	m.signal(syscall.SIGTERM)
	m.waitLog(`readiness now fails; serving on for shutdown-delay`, 1)
	// During shutdown-delay new requests are still served.
	if code, body := get(t, app+"/pid"); code != 200 {
		t.Fatalf("GET /pid during shutdown-delay = %d %q", code, body)
	}
	r := pollDrain(t, health, sent, held)
	if r.err != nil || r.code != 200 || r.body != "held 3s" {
		t.Fatalf("the in-flight request got %d %q %v, want 200 from the drain", r.code, r.body, r.err)
	}
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	if took := time.Since(sent); took > 10*time.Second {
		t.Fatalf("shutdown took %v, more than shutdown-delay + mercy", took)
	}
}

// As PID 1 of a new pid namespace (a container), SIGTERM drains a 3 s
// request and the master exits 0.
func TestAsPID1SigtermDrainsAndExitsZero(t *testing.T) {
	parallel(t)
	probeNS := exec.Command("/bin/true")
	probeNS.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	if err := probeNS.Run(); err != nil {
		t.Skipf("cannot start a process in a new pid namespace here (CLONE_NEWPID: %v); this test needs root or user namespaces", err)
	}
	m, app, health, fifo := startHold(t, func(c *exec.Cmd) {
		c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}, "--worker-reload-mercy", "10")
	if nspid := nsPIDs(t, m.cmd.Process.Pid); !strings.HasSuffix(nspid, "\t1") {
		t.Fatalf("the master's NSpid is %q, want PID 1 in its namespace", nspid)
	}
	wantProbe(t, health+"/readyz", 200, "ready")
	held := holdRequest(t, app, fifo)
	sent := time.Now()
	m.signal(syscall.SIGTERM)
	r := pollDrain(t, health, sent, held)
	if r.err != nil || r.code != 200 || r.body != "held 3s" {
		t.Fatalf("the in-flight request got %d %q %v, want 200", r.code, r.body, r.err)
	}
	if code := m.waitExit(); code != 0 {
		t.Fatalf("PID 1 exited %d after SIGTERM, want 0", code)
	}
}

// nsPIDs is the NSpid line of /proc/PID/status: the pid in each namespace.
func nsPIDs(t *testing.T, pid int) string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "NSpid:"); ok {
			return v
		}
	}
	t.Fatal("no NSpid in /proc/PID/status")
	return ""
}

// A worker that says NOAPP=1 fails readiness (and shows no apps in the
// stats) while liveness holds; a good reload makes the pod ready.
func TestReadyzFailsForAWorkerWithoutAnApp(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	app := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	health := "http://" + fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ini := filepath.Join(dir, "app.ini")
	conf := fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nprocesses = 2\nstats = %s\nstats-http = true\nhealth = %s\nenv = %s=noapp\nexec = %s\n",
		app, statsAddr, strings.TrimPrefix(health, "http://"), envHelper, os.Args[0])
	writeFile(t, ini, conf)
	m := startMaster(t, dir, "--ini", ini)
	m.waitLog(`worker started without an app`, 2)
	wantProbe(t, health+"/readyz", 503, "no app loaded: ModuleNotFoundError")
	wantProbe(t, health+"/healthz", 200, "ok")
	// stats-http answers the same probes, and shows the workers' empty apps.
	wantProbe(t, "http://"+statsAddr+"/readyz", 503, "loaded no app")
	_, doc := get(t, "http://"+statsAddr+"/")
	var st struct {
		Workers []struct{ Apps []json.RawMessage }
	}
	if err := json.Unmarshal([]byte(doc), &st); err != nil || len(st.Workers) != 2 || len(st.Workers[0].Apps) != 0 {
		t.Fatalf("stats %q: want 2 workers without apps (%v)", doc, err)
	}
	writeFile(t, ini, strings.Replace(conf, "=noapp", "=goworker", 1))
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
	wantProbe(t, health+"/readyz", 200, "generation 2")
	wantProbe(t, health+"/healthz", 200, "ok")
}

// A worker that never says READY=1 keeps the pod unready.
func TestReadyzFailsWhileAWorkerNeverBecomesReady(t *testing.T) {
	dir := shortTempDir(t)
	health := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, dir, "--http-socket", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--health", health,
		"--ready-timeout", "0", "--env", envHelper+"=neverready", "--", os.Args[0])
	m.waitLog(`spawned worker`, 1)
	m.waitLog(`health probes listening`, 1)
	wantProbe(t, "http://"+health+"/readyz", 503, "is starting (loading the app)")
	wantProbe(t, "http://"+health+"/healthz", 200, "ok")
}

// A Python app that cannot import (no need-app): its workers exit and back
// off, or (the newer Python worker) serve with NOAPP=1; either way
// readiness fails until a reload loads a good app. A reload to a broken app
// under need-app dies before ready and leaves the old generation serving:
// readiness stays 200 (docs/kubernetes.md).
func TestReadyzWithAnAppThatCannotImport(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "app.sock")
	health := "http://" + fmt.Sprintf("127.0.0.1:%d", freePort(t))
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	writeFile(t, filepath.Join(dir, "broken.py"), "import not_installed_anywhere\n")
	ini := filepath.Join(dir, "app.ini")
	conf := fmt.Sprintf("[uwsgi]\nsocket = %s\nmodule = broken\nprocesses = 2\nchdir = %s\nhealth = %s\n",
		sock, dir, strings.TrimPrefix(health, "http://"))
	writeFile(t, ini, conf)
	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`worker keeps failing; backing off|worker started without an app`, 1)
	wantProbe(t, health+"/readyz", 503, "")
	wantProbe(t, health+"/healthz", 200, "ok")

	good := strings.Replace(conf, "module = broken", "module = echo", 1) + "need-app = true\n"
	writeFile(t, ini, good)
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
	wantProbe(t, health+"/readyz", 200, "generation 2")

	writeFile(t, ini, strings.Replace(good, "module = echo", "module = broken", 1)) // this reload fails
	m.signal(syscall.SIGHUP)
	m.waitLog(`reload failed: .*before it was ready`, 1)
	wantProbe(t, health+"/readyz", 200, "generation 2")
	wantProbe(t, health+"/healthz", 200, "ok")
}
