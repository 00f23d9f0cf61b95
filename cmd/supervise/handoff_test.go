package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logTime is the master's timestamp at the head of one of its log lines.
func logTime(t *testing.T, line string) time.Time {
	t.Helper()
	field, _, _ := strings.Cut(line, " ")
	at, err := time.Parse("2006-01-02T15:04:05.000Z0700", field)
	if err != nil {
		t.Fatalf("no timestamp in log line %q: %v", line, err)
	}
	return at
}

// startOneWorker runs app (as echo.py) on one worker on an http-socket,
// with the options in extra, ready; it returns the master and its address.
func startOneWorker(t *testing.T, app string, extra ...string) (*masterProc, string) {
	t.Helper()
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "echo.py"), app)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"--http-socket", addr, "--module", "echo", "--processes", "1",
		"--python-bin", py, "--chdir", dir}, extra...)
	m := startMaster(t, dir, args...)
	m.waitLog(`all workers ready: generation=1`, 1)
	return m, addr
}

// handOffGap reloads once and returns how long after the new generation
// was ready the master stopped the worker it replaced (the master's own
// clock, from its log).
func handOffGap(t *testing.T, m *masterProc, gen int) time.Duration {
	t.Helper()
	old := m.spawnedIn(gen - 1)
	if len(old) != 1 {
		t.Fatalf("generation %d: workers %v, want one", gen-1, old)
	}
	m.signal(syscall.SIGHUP)
	ready := m.waitLog(fmt.Sprintf(`all workers ready: generation=%d`, gen), 1)[0]
	stop := m.waitLog(fmt.Sprintf(`stopping worker: id=1 pid=%d .*replaced by a new worker`, old[0]), 1)[0]
	return logTime(t, stop).Sub(logTime(t, ready))
}

// A reload's new worker copies the zygote's pages on its first request
// (the slowest it serves), so the worker it replaces keeps serving until
// the scoreboard shows the new one finished a request, or for a second
// after its READY=1 (master/handoff.go). Without traffic the old worker
// stays the whole second; with traffic it goes at the new one's first
// request, and no request fails either way.
func TestReloadHandsOffWhenTheNewWorkerIsWarm(t *testing.T) {
	parallel(t)
	m, addr := startOneWorker(t, echoApp)

	if gap := handOffGap(t, m, 2); gap < 900*time.Millisecond {
		t.Fatalf("no request reached the new worker, yet the old one was stopped %v after the new one was ready (want the whole second)", gap)
	}

	// A connection per request, as behind nginx: a keep-alive client stays
	// with the worker that accepted it (and a one-thread worker serving
	// one busy keep-alive connection leaves the other in the listen queue).
	load := startLoadWith("http://"+addr+"/pid", 2, &http.Transport{DisableKeepAlives: true})
	gap := handOffGap(t, m, 3)
	ok, failed, firstErr := load.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d requests failed across the hand-off (%d ok); first error: %v", failed, ok, firstErr)
	}
	if gap >= 900*time.Millisecond {
		t.Fatalf("under load the old worker stayed %v after the new one was ready: it should go at the new one's first request", gap)
	}
}
