package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Preloading: Python workers fork from a per-generation zygote that
// imported the app once (the default; lazy-apps = true imports per worker).

// An app whose import is recorded once per process that imports it, so a
// test tells a zygote's single import from an import in every worker.
const importCountApp = `
import os, sys, threading
try:
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "imports.log"), "a") as f:
        f.write("%d\n" % os.getpid())
except OSError:
    pass  # running as nobody in a directory it may not write
if os.environ.get("START_THREAD"):
    threading.Thread(target=threading.Event().wait, name="app-poller", daemon=True).start()
import uwsgi
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/hang":
        import time
        time.sleep(60)
    body = ("%d %d %d" % (os.getpid(), os.getppid(), uwsgi.worker_id())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

func startPreloaded(t *testing.T, extra ...string) (m *masterProc, dir, base string) {
	return startModuleApp(t, "counted", importCountApp, 3, extra...)
}

// startModuleApp writes source as module.py in a new directory and
// serves it (Debian's Python, http-socket, processes workers) until its
// workers are ready.
func startModuleApp(t *testing.T, module, source string, processes int, extra ...string) (m *masterProc, dir, base string) {
	t.Helper()
	py := debianPython(t)
	dir = shortTempDir(t)
	writeFile(t, filepath.Join(dir, module+".py"), source)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"--http-socket", addr, "--module", module, "--processes", strconv.Itoa(processes),
		"--python-bin", py, "--chdir", dir}, extra...)
	m = startMaster(t, dir, args...)
	m.waitLog(`all workers ready`, 1)
	return m, dir, "http://" + addr
}

// imports is the pids that imported the app, in order.
func imports(t *testing.T, dir string) []int {
	t.Helper()
	raw, _ := os.ReadFile(filepath.Join(dir, "imports.log"))
	var pids []int
	for _, f := range strings.Fields(string(raw)) {
		n, _ := strconv.Atoi(f)
		pids = append(pids, n)
	}
	return pids
}

var zygotePID = pidAfter(`started the zygote`)

// pidAfter finds the pid= of the n-th (from 1) log line matching re.
func pidAfter(re string) func(m *masterProc, n int) int {
	return func(m *masterProc, n int) int {
		lines := m.waitLog(re, n)
		f := pidField.FindStringSubmatch(lines[n-1])
		pid, _ := strconv.Atoi(f[1])
		return pid
	}
}

// served is the pid, parent pid and uwsgi.worker_id() of the worker that
// answered.
func served(t *testing.T, url string) (pid, ppid, wid int) {
	t.Helper()
	if _, err := fmt.Sscan(fresh(t, url), &pid, &ppid, &wid); err != nil {
		t.Fatal(err)
	}
	return
}

func TestWorkersForkFromOneImportAndAreTheMastersChildren(t *testing.T) {
	m, dir, base := startPreloaded(t)
	zygote := zygotePID(m, 1)
	if got := imports(t, dir); len(got) != 1 || got[0] != zygote {
		t.Fatalf("the app was imported by %v, want once, by the zygote %d", got, zygote)
	}
	master := m.cmd.Process.Pid
	workers := m.workerPids()
	if len(workers) != 3 {
		t.Fatalf("workers %v, want 3", workers)
	}
	kids := children(master)
	for _, pid := range append(workers, zygote) {
		if !slices.Contains(kids, pid) {
			t.Fatalf("process %d is not the master's child (master %d's children: %v)", pid, master, kids)
		}
	}
	slotOf := map[int]int{} // pid -> the id the master gave it
	for _, l := range m.waitLog(`spawned worker: id=\d+ pid=\d+`, 3) {
		var id, pid int
		fmt.Sscanf(l[strings.Index(l, "id="):], "id=%d pid=%d", &id, &pid)
		slotOf[pid] = id
	}
	for i := 0; i < 20; i++ {
		pid, ppid, wid := served(t, base+"/")
		if ppid != master || !slices.Contains(workers, pid) {
			t.Fatalf("answered by pid %d (parent %d), want one of the workers %v of master %d", pid, ppid, workers, master)
		}
		if wid != slotOf[pid] || wid == 0 {
			t.Fatalf("uwsgi.worker_id() in pid %d is %d, want its own id %d", pid, wid, slotOf[pid])
		}
	}
	// Each worker's lines are its own: the ready line names its id.
	for id := 1; id <= 3; id++ {
		m.waitLog(fmt.Sprintf(`worker\.%d: ready: pid=\d+`, id), 1)
	}

	// A worker killed is reaped by the master and replaced by a fork.
	syscall.Kill(workers[0], syscall.SIGKILL)
	m.waitLog(fmt.Sprintf(`worker died: .*pid=%d .*status="killed by SIGKILL"`, workers[0]), 1)
	m.waitLog(`spawned worker`, 4)
	m.waitLog(`all workers ready`, 1)
	waitFor(t, "3 live workers", func() bool { return len(m.workerPids()) == 3 })
	if got := imports(t, dir); len(got) != 1 {
		t.Fatalf("the replacement imported the app again: %v", got)
	}
	if strings.Contains(m.log(), "zygote died") {
		t.Fatal("the zygote died")
	}
}

func TestZygoteKilledIsRebuiltAndKeepsEveryWorker(t *testing.T) {
	m, dir, base := startPreloaded(t)
	zygote := zygotePID(m, 1)
	workers := m.workerPids()
	syscall.Kill(zygote, syscall.SIGKILL)
	m.waitLog(`zygote died: pid=`+strconv.Itoa(zygote)+` .*killed by SIGKILL`, 1)
	rebuilt := zygotePID(m, 2)
	m.waitLog(`zygote ready: .*pid=`+strconv.Itoa(rebuilt), 1)
	for _, pid := range workers {
		if !alive(pid) {
			t.Fatalf("worker %d died with the zygote", pid)
		}
	}
	if got := imports(t, dir); len(got) != 2 || got[1] != rebuilt {
		t.Fatalf("imports %v, want the first zygote's and the rebuilt one's (%d)", got, rebuilt)
	}
	// Respawns now fork from the rebuilt zygote.
	syscall.Kill(workers[1], syscall.SIGKILL)
	m.waitLog(`spawned worker`, 4)
	waitFor(t, "3 live workers", func() bool { return len(m.workerPids()) == 3 })
	for i := 0; i < 10; i++ {
		if _, ppid, _ := served(t, base+"/"); ppid != m.cmd.Process.Pid {
			t.Fatalf("a worker's parent is %d, want the master", ppid)
		}
	}
	if got := imports(t, dir); len(got) != 2 {
		t.Fatalf("imports after the respawn %v, want 2", got)
	}
}

func TestKill9OfTheMasterEndsTheZygoteAndItsWorkers(t *testing.T) {
	m, _, _ := startPreloaded(t)
	pids := append(m.workerPids(), zygotePID(m, 1))
	m.signal(syscall.SIGKILL)
	m.waitExit()
	waitGone(t, pids, 2*time.Second) // the lifeline, watched by the zygote too
}

func TestHarakiriAndMaxRequestsReplaceForkedWorkers(t *testing.T) {
	m, dir, base := startPreloaded(t, "--harakiri", "1", "--max-requests", "3", "--min-worker-lifetime", "0", "--processes", "1")
	first := m.workerPids()
	hung := getAsync(base + "/hang")
	m.waitLog(`HARAKIRI: a request outran the harakiri limit`, 1)
	waitGone(t, first, 10*time.Second)
	<-hung
	m.waitLog(`spawned worker`, 2)
	waitFor(t, "a live worker", func() bool { return len(m.workerPids()) == 1 })
	for i := 0; i < 4; i++ {
		served(t, base+"/")
	}
	m.waitLog(`replacing worker: it served max-requests`, 1)
	m.waitLog(`spawned worker`, 3)
	if got := imports(t, dir); len(got) != 1 {
		t.Fatalf("imports %v: replacements imported the app again", got)
	}
}

func TestZygoteWarnsAboutThreadsStartedAtImport(t *testing.T) {
	m, _, _ := startPreloaded(t, "--env", "START_THREAD=1")
	m.waitLog(`zygote: the app started threads at import; they do not run in the forked workers.*threads=app-poller`, 1)
}

func TestLazyAppsImportsInEveryWorker(t *testing.T) {
	m, dir, _ := startPreloaded(t, "--lazy-apps")
	if strings.Contains(m.log(), "zygote") {
		t.Fatal("lazy-apps started a zygote")
	}
	if got := imports(t, dir); len(got) != 3 {
		t.Fatalf("imports %v, want one per worker (3)", got)
	}
}

func TestZygoteAndWorkersDropToUidGid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start workers as nobody")
	}
	m, _, base := startPreloaded(t, "--uid", "nobody", "--gid", "nogroup")
	for _, pid := range append(m.workerPids(), zygotePID(m, 1)) {
		if uid, gid := procIDs(t, pid); uid != "65534" || gid != "65534" {
			t.Fatalf("process %d runs as %s:%s, want nobody:nogroup", pid, uid, gid)
		}
	}
	served(t, base+"/")
}

// zygotePids is every zygote pid the master logged, alive or not.
func zygotePids(m *masterProc) []int {
	var pids []int
	for _, l := range strings.Split(m.log(), "\n") {
		if strings.Contains(l, "started the zygote") {
			if f := pidField.FindStringSubmatch(l); f != nil {
				pid, _ := strconv.Atoi(f[1])
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// A terminal's ^C reaches the whole process group; the zygote leaves it
// to the master (no traceback, no rebuild) and still forks.
func TestZygoteLeavesSIGINTToTheMaster(t *testing.T) {
	m, _, _ := startPreloaded(t, "--processes", "1")
	zygote := zygotePID(m, 1)
	syscall.Kill(zygote, syscall.SIGINT)
	syscall.Kill(zygote, syscall.SIGHUP)
	workers := m.workerPids()
	syscall.Kill(workers[0], syscall.SIGKILL)
	m.waitLog(`spawned worker`, 2)
	m.waitLog(`worker\.1: ready: `, 2)
	if !alive(zygote) || strings.Contains(m.log(), "zygote died") || strings.Contains(m.log(), "KeyboardInterrupt") {
		t.Fatal("the zygote was ended by SIGINT or SIGHUP")
	}
}

// An app that builds a structure on its first request, recording which
// process built it (as Django builds its URL resolver and templates).
const lazyBuildApp = `
import os
_table = None
def application(environ, start_response):
    global _table
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("no warm-up here")
    if _table is None:
        _table = {i: str(i) for i in range(1000)}
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "built.log"), "a") as f:
            f.write("%d %s\n" % (os.getpid(), environ.get("HTTP_USER_AGENT", "")))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// preload-warmup: the zygote GETs the paths from the app before forking,
// so what the app builds on its first request is built once, in the
// zygote, and every worker has it; a path that raises is logged and the
// zygote forks all the same.
func TestPreloadWarmupBuildsInTheZygote(t *testing.T) {
	m, dir, base := startModuleApp(t, "lazybuild", lazyBuildApp, 2, "--preload-warmup", "/boom", "--preload-warmup", "/first?x=1")
	zygote := zygotePID(m, 1)
	m.waitLog(`zygote: preload-warmup: path="/first\?x=1" status="200 OK" rounds=10`, 1)
	m.waitLog(`zygote: preload-warmup: the app raised; .*path=/boom error="RuntimeError: no warm-up here"`, 1)
	workers := m.workerPids()
	for i := 0; i < 10; i++ {
		pid, _ := strconv.Atoi(fresh(t, base+"/"))
		if !slices.Contains(workers, pid) {
			t.Fatalf("answered by %d, want one of the workers %v", pid, workers)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "built.log"))
	if want := fmt.Sprintf("%d supervise-preload-warmup\n", zygote); string(raw) != want {
		t.Fatalf("built by %q, want once, by the zygote's warm-up: %q", raw, want)
	}
}
