package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
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
// reaped and replaced as before; a reload's generation forks in one
// request too.
func TestWorkersOfAGenerationForkInOneRequest(t *testing.T) {
	m, _, base := startModuleApp(t, "envapp", slowEnvApp, 4, "--env", "EXTRA=e1")
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
