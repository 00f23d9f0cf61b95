package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// forkedEnvApp, with /slow holding its worker 200 ms, so that concurrent
// requests reach every worker.
const slowEnvApp = forkedEnvApp + `
_plain = application
def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        import time
        time.sleep(0.2)
    return _plain(environ, start_response)
`

// The workers a generation misses fork from its zygote in one request
// (the zygote forks them back to back, with no Python between two forks:
// what it would write there is copied into every worker forked before).
// Each keeps its own id and environment, is the master's child, and is
// reaped and replaced as before; with reload-fork-width = 0 a reload's
// generation forks in one request too.
func TestWorkersOfAGenerationForkInOneRequest(t *testing.T) {
	m, _, base := startModuleApp(t, "envapp", slowEnvApp, 4, "--env", "EXTRA=e1", "--reload-fork-width", "0")
	m.waitLog(`forked workers from the zygote in one request: workers=4`, 1)
	checkIDs := func() {
		t.Helper()
		seen := map[string]bool{}
		for round := 0; round < 20 && len(seen) < 4; round++ {
			var wg sync.WaitGroup
			bodies := make([]string, 4)
			for i := range bodies {
				wg.Add(1)
				go func() { // no t.Fatal off the test's goroutine: a failure leaves the body empty
					defer wg.Done()
					resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Get(base + "/slow")
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						bodies[i] = string(b)
					}
				}()
			}
			wg.Wait()
			for _, body := range bodies {
				id, _, _ := strings.Cut(strings.TrimPrefix(body, "SUPERVISE_WORKER_ID:"), "/")
				if want := fmt.Sprintf("SUPERVISE_WORKER_ID:%s/%s EXTRA:e1/e1 FROM_IMPORT:yes/yes SUPERVISE_ZYGOTE_FD:-/-", id, id); body != want {
					t.Fatalf("a worker's environment: %q, want %q", body, want)
				}
				seen[id] = true
			}
		}
		if len(seen) != 4 || !seen["1"] || !seen["2"] || !seen["3"] || !seen["4"] {
			t.Fatalf("workers answered with ids %v, want 1 to 4", seen)
		}
	}
	checkIDs()
	master := m.cmd.Process.Pid
	workers := m.workerPids()
	kids := children(master)
	for _, pid := range workers {
		if !slices.Contains(kids, pid) {
			t.Fatalf("worker %d is not the master's child (its children: %v)", pid, kids)
		}
	}

	// Two killed at once: reaped, replaced with their own ids.
	syscall.Kill(workers[0], syscall.SIGKILL)
	syscall.Kill(workers[1], syscall.SIGKILL)
	for _, pid := range workers[:2] {
		m.waitLog(fmt.Sprintf(`worker died: .*pid=%d .*status="killed by SIGKILL"`, pid), 1)
	}
	m.waitLog(`spawned worker`, 6)
	waitFor(t, "4 live workers", func() bool { return len(m.workerPids()) == 4 })
	checkIDs()

	m.signal(syscall.SIGHUP)
	m.waitLog(`forked workers from the zygote in one request: workers=4`, 2)
	m.waitLog(`all workers ready`, 2)
	checkIDs()
}

// A graceful reload forks reload-fork-width workers at a time. Idle, no
// request tells that a new worker is warm, so each next fork comes 200 ms
// after the last one's READY=1 (master/rollout.go): the kernel's start
// times of the new workers are that far apart, where one request's forks
// are back to back.
func TestGracefulReloadForksOneWorkerAfterAnother(t *testing.T) {
	m, _, base := startModuleApp(t, "envapp", slowEnvApp, 3, "--reload-fork-width", "1")
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready`, 2)
	fresh := m.spawnedIn(2)
	if len(fresh) != 3 {
		t.Fatalf("generation 2 spawned %v, want 3 workers", fresh)
	}
	starts := make([]time.Duration, len(fresh))
	for i, pid := range fresh {
		starts[i] = procStartTime(t, pid)
	}
	slices.Sort(starts)
	for i := 1; i < len(starts); i++ {
		if gap := starts[i] - starts[i-1]; gap < 150*time.Millisecond {
			t.Fatalf("generation 2's workers started at %v (since boot): %v apart, want each >= 150 ms after the last", starts, gap)
		}
	}
	if n := strings.Count(m.log(), "forked workers from the zygote in one request"); n != 1 {
		t.Fatalf("%d batch fork requests, want only the start's", n)
	}
	resp, err := http.Get(base + "/")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the staggered reload: %v %v", resp, err)
	}
	resp.Body.Close()
}

// procStartTime is when pid started, since boot, from /proc/PID/stat
// (clock ticks of 10 ms).
func procStartTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	fields := statFields(pid)
	if len(fields) < 20 {
		t.Fatalf("worker %d: no /proc/%d/stat to read its start time from", pid, pid)
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64) // field 22 of stat(5); fields[0] is field 3
	if err != nil {
		t.Fatalf("worker %d's start time %q: %v", pid, fields[19], err)
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}
