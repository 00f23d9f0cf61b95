package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A Python worker with threads = 1 starts no thread: its main thread
// serves, and takes the lifeline and the master's signals in the same
// epoll (worker.py serve_alone). The uwsgi-signals reader starts only
// once the app registers a handler.

const aloneApp = `
import os, threading, time
HERE = os.path.dirname(os.path.abspath(__file__))
if os.environ.get("REGISTER_SIGNAL"):
    import uwsgi
    uwsgi.register_signal(17, "workers", lambda sig: open(os.path.join(HERE, "signalled"), "a").write("%d\n" % os.getpid()))
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/slow":
        open(os.path.join(HERE, "inflight"), "w").close()
        try:
            time.sleep(1.5)
            body = b"slept"
        except BaseException as e:
            body = ("the app saw %r" % e).encode()
    elif path == "/hang":
        open(os.path.join(HERE, "inflight"), "w").close()
        time.sleep(3600)
        body = b"woke"
    elif path == "/raise":
        import uwsgi
        uwsgi.signal(17)
        body = b"raised"
    else:
        body = ("%d %d" % (os.getpid(), threading.active_count())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

func startAlone(t *testing.T, extra ...string) (m *masterProc, dir, base string) {
	return startModuleApp(t, "alone", aloneApp, 1, extra...)
}

// tasks is how many threads the kernel has for pid.
func tasks(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

func TestOneThreadWorkerStartsNoThread(t *testing.T) {
	for _, mode := range []string{"preloaded", "lazy-apps"} {
		t.Run(mode, func(t *testing.T) {
			var extra []string
			if mode == "lazy-apps" {
				extra = append(extra, "--lazy-apps")
			}
			m, _, base := startAlone(t, extra...)
			pid := m.workerPids()[0]
			if got := fresh(t, base+"/"); got != strconv.Itoa(pid)+" 1" {
				t.Fatalf("the worker answered %q, want its pid %d and threading.active_count() 1", got, pid)
			}
			if n := tasks(t, pid); n != 1 {
				t.Fatalf("worker %d (threads = 1) runs %d threads, want 1", pid, n)
			}
		})
	}
	// threads = 2 keeps its core threads, the lifeline's and the main
	// thread's sigwait.
	m, _, _ := startAlone(t, "--threads", "2")
	if pid := m.workerPids()[0]; tasks(t, pid) < 4 {
		t.Fatalf("worker %d (threads = 2) runs %d threads, want the main thread, 2 cores and the lifeline", pid, tasks(t, pid))
	}
}

// SIGHUP is ignored; SIGTERM stops the worker once the request in flight
// is done, and the app never sees either signal.
func TestOneThreadWorkerFinishesTheRequestOnSIGTERM(t *testing.T) {
	m, dir, base := startAlone(t)
	pid := m.workerPids()[0]
	slow := getAsync(base + "/slow")
	waitFor(t, "the request in flight", func() bool {
		_, err := os.Stat(filepath.Join(dir, "inflight"))
		return err == nil
	})
	syscall.Kill(pid, syscall.SIGHUP)
	syscall.Kill(pid, syscall.SIGTERM)
	select {
	case r := <-slow:
		if r.err != nil || r.code != 200 || r.body != "slept" {
			t.Fatalf("the request in flight got %d %q (%v), want 200 slept", r.code, r.body, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no answer to the request in flight")
	}
	waitGone(t, []int{pid}, 10*time.Second) // not after a keep-alive connection's 30 s idle
	m.waitLog(fmt.Sprintf(`worker .*pid=%d .*status="exit code 0"`, pid), 1)
}

// A one-thread worker whose master is killed ends at once, even in the
// middle of a request that hangs, or of its import (lazy-apps): no
// thread watches the lifeline, the kernel does (SIGIO).
func TestOneThreadWorkerEndsWithItsMasterMidRequest(t *testing.T) {
	for _, mode := range []string{"preloaded", "lazy-apps"} {
		t.Run(mode, func(t *testing.T) {
			var extra []string
			if mode == "lazy-apps" {
				extra = append(extra, "--lazy-apps")
			}
			m, dir, base := startAlone(t, extra...)
			pid := m.workerPids()[0]
			getAsync(base + "/hang")
			waitFor(t, "the request in flight", func() bool {
				_, err := os.Stat(filepath.Join(dir, "inflight"))
				return err == nil
			})
			m.signal(syscall.SIGKILL)
			m.waitExit()
			waitGone(t, []int{pid}, 5*time.Second)
		})
	}
}

// SIGINT (and SIGQUIT) end a one-thread worker at once, as the sigwait
// loop of a threaded one: no traceback.
func TestOneThreadWorkerExitsOnSIGINT(t *testing.T) {
	m, _, _ := startAlone(t)
	pid := m.workerPids()[0]
	syscall.Kill(pid, syscall.SIGINT)
	m.waitLog(fmt.Sprintf(`worker .*pid=%d .*status="exit code 0"`, pid), 1)
	if strings.Contains(m.log(), "Traceback") {
		t.Fatalf("a traceback:\n%s", m.log())
	}
}

// The uwsgi-signals reader thread starts when the app registers a
// handler, and the handler runs.
func TestOneThreadWorkerStartsTheSignalReaderForAHandler(t *testing.T) {
	m, dir, base := startAlone(t, "--env", "REGISTER_SIGNAL=1")
	pid := m.workerPids()[0]
	fresh(t, base+"/raise")
	waitFor(t, "the handler's run", func() bool {
		raw, _ := os.ReadFile(filepath.Join(dir, "signalled"))
		return strings.TrimSpace(string(raw)) == strconv.Itoa(pid)
	})
	if n := tasks(t, pid); n != 2 {
		t.Fatalf("worker %d with a signal handler runs %d threads, want 2 (main, uwsgi-signals)", pid, n)
	}
}
