package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// An app whose import waits, while a file "hold" exists, for a file "go":
// a test keeps a reload's import running as long as it looks at it.
const heldImportApp = `
import os, time
_here = os.path.dirname(os.path.abspath(__file__))
if os.path.exists(os.path.join(_here, "hold")):
    for _ in range(6000):
        if os.path.exists(os.path.join(_here, "go")):
            break
        time.sleep(0.01)
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
`

// threadNices is the nice value of each thread of pid.
func threadNices(t *testing.T, pid int) []int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	var nices []int
	for _, task := range tasks {
		raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "task", task.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		nice, _ := strconv.Atoi(fields[16]) // stat's 19th field; the list starts at the 3rd
		nices = append(nices, nice)
	}
	return nices
}

func wantNice(t *testing.T, what string, pid, want int) {
	t.Helper()
	for _, n := range threadNices(t, pid) {
		if n != want {
			t.Fatalf("%s %d has a thread at nice %d, want %d (all: %v)", what, pid, n, want, threadNices(t, pid))
		}
	}
}

// A reload loads its app at a lower priority than the generation that
// serves meanwhile, and everything it then serves with runs at the
// master's priority: the zygote (preloading) or each worker (lazy-apps).
func TestReloadLoadsTheAppAtALowerPriority(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting a process back to the master's priority needs CAP_SYS_NICE")
	}
	for _, mode := range []struct {
		name   string
		extra  []string
		loader string // the log line naming the reload's loading processes
		count  int
	}{
		{"preloaded", nil, `started the zygote: .* generation=2`, 1},
		{"lazy-apps", []string{"--lazy-apps"}, `spawned worker: .* generation=2`, 2},
	} {
		t.Run(mode.name, func(t *testing.T) {
			m, dir, _ := startModuleApp(t, "held", heldImportApp, 2, append([]string{"--threads", "2"}, mode.extra...)...)
			serving := m.workerPids()
			writeFile(t, filepath.Join(dir, "hold"), "")
			m.signal(syscall.SIGHUP)
			var loaders []int
			for _, line := range m.waitLog(mode.loader, mode.count) {
				pid, _ := strconv.Atoi(pidField.FindStringSubmatch(line)[1])
				loaders = append(loaders, pid)
			}
			for _, pid := range loaders {
				wantNice(t, "a process loading the reload's app", pid, 10)
			}
			for _, pid := range serving {
				wantNice(t, "a worker of the serving generation", pid, 0)
			}
			writeFile(t, filepath.Join(dir, "go"), "")
			m.waitLog(`all workers ready: generation=2`, 1)
			for _, pid := range append(loaders, m.workerPids()...) {
				if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
					wantNice(t, "after the reload, process", pid, 0)
				}
			}
		})
	}
}
