package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// How the zygote forks a worker: by default a bare fork(2), as uWSGI,
// without CPython's after-fork callbacks (os.register_at_fork); with
// py-call-osafterfork = true, or when the zygote has other threads,
// os.fork(). Either way each worker gets its own random seed and its
// main thread its own native id, and the post-fork hook runs.

// An app whose post-fork hook records, in each worker: its pid, whether
// its at-fork callback ran in this process, a random number and whether
// threading knows its main thread's native id.
const atForkApp = `
import os, random, threading, uwsgi
HERE = os.path.dirname(os.path.abspath(__file__))
_forked_in = []
os.register_at_fork(after_in_child=lambda: _forked_in.append(os.getpid()))
if os.environ.get("START_THREAD"):
    threading.Thread(target=threading.Event().wait, name="app-poller", daemon=True).start()
def _report():
    line = "%d %d %r %d\n" % (os.getpid(), os.getpid() in _forked_in, random.random(),
                              threading.main_thread().native_id == threading.get_native_id())
    fd = os.open(os.path.join(HERE, "workers.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, line.encode())
    os.close(fd)
uwsgi.post_fork_hook = _report
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
`

type forkedWorker struct {
	pid          int
	atFork       bool
	random       string
	nativeIDSeen bool
}

// forkedWorkers starts an at-fork app with 3 workers and returns what
// each worker's post-fork hook recorded.
func forkedWorkers(t *testing.T, extra ...string) (*masterProc, []forkedWorker) {
	t.Helper()
	return forkedWorkersWith(t, nil, extra...)
}

// forkedWorkersWith writes files (name -> text) beside the app first.
func forkedWorkersWith(t *testing.T, files map[string]string, extra ...string) (*masterProc, []forkedWorker) {
	t.Helper()
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "atfork.py"), atForkApp)
	for name, text := range files {
		writeFile(t, filepath.Join(dir, name), text)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"--http-socket", addr, "--module", "atfork", "--processes", "3",
		"--python-bin", py, "--chdir", dir}, extra...)
	m := startMaster(t, dir, args...)
	m.waitLog(`all workers ready`, 1)
	var lines []string
	waitFor(t, "3 workers' post-fork records", func() bool {
		raw, _ := os.ReadFile(filepath.Join(dir, "workers.log"))
		lines = strings.Split(strings.TrimSpace(string(raw)), "\n")
		return len(lines) == 3
	})
	var out []forkedWorker
	for _, l := range lines {
		var w forkedWorker
		var at, nid int
		if _, err := fmt.Sscanf(l, "%d %d %s %d", &w.pid, &at, &w.random, &nid); err != nil {
			t.Fatalf("record %q: %v", l, err)
		}
		w.atFork, w.nativeIDSeen = at == 1, nid == 1
		out = append(out, w)
	}
	return m, out
}

func checkOwnState(t *testing.T, ws []forkedWorker) {
	t.Helper()
	seen := map[string]int{}
	for _, w := range ws {
		if other, ok := seen[w.random]; ok {
			t.Fatalf("workers %d and %d drew the same random.random() %s: they share the zygote's seed", other, w.pid, w.random)
		}
		seen[w.random] = w.pid
		if !w.nativeIDSeen {
			t.Fatalf("worker %d: threading.main_thread().native_id is not its own thread id", w.pid)
		}
	}
}

func TestZygoteForksWithoutTheAfterForkCallbacks(t *testing.T) {
	m, ws := forkedWorkers(t)
	for _, w := range ws {
		if w.atFork {
			t.Fatalf("worker %d ran the app's os.register_at_fork callback; by default (as uWSGI) it must not", w.pid)
		}
	}
	checkOwnState(t, ws)
	if strings.Contains(m.log(), "os.fork()") {
		t.Fatalf("the zygote fell back to os.fork():\n%s", m.log())
	}
}

func TestPyCallOSAfterForkRunsTheAfterForkCallbacks(t *testing.T) {
	_, ws := forkedWorkers(t, "--py-call-osafterfork")
	for _, w := range ws {
		if !w.atFork {
			t.Fatalf("worker %d did not run the app's os.register_at_fork callback with py-call-osafterfork", w.pid)
		}
	}
	checkOwnState(t, ws)
}

// A zygote with another thread forks with os.fork(): a bare fork would
// leave that thread's state (and maybe the GIL) to the worker.
func TestZygoteWithThreadsForksWithOSFork(t *testing.T) {
	m, ws := forkedWorkers(t, "--env", "START_THREAD=1")
	for _, w := range ws {
		if !w.atFork {
			t.Fatalf("worker %d was forked without the after-fork callbacks while the zygote had another thread", w.pid)
		}
	}
	checkOwnState(t, ws)
	m.waitLog(`zygote: the zygote has other threads: workers are forked with os.fork\(\)`, 1)
}

// Without ctypes (here an app directory's ctypes.py that fails, which
// the zygote's import finds first) the zygote says so once and forks
// with os.fork().
func TestZygoteWithoutCtypesForksWithOSFork(t *testing.T) {
	m, ws := forkedWorkersWith(t, map[string]string{"ctypes.py": "raise ImportError('no ctypes here')\n"})
	for _, w := range ws {
		if !w.atFork {
			t.Fatalf("worker %d was forked without the after-fork callbacks, with no ctypes", w.pid)
		}
	}
	checkOwnState(t, ws)
	m.waitLog(`zygote: no bare fork \(ctypes\): workers are forked with os.fork\(\).*no ctypes here`, 1)
	if n := len(regexp.MustCompile(`no bare fork`).FindAllString(m.log(), -1)); n != 1 {
		t.Fatalf("the zygote said %d times that it has no bare fork, want once", n)
	}
}
