package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var daemonPIDField = regexp.MustCompile(`started daemon: .*pid=(\d+)`)

func daemonPIDs(t *testing.T, m *masterProc, n int) []int {
	t.Helper()
	var pids []int
	for _, line := range m.waitLog(`started daemon: `, n) {
		if sub := daemonPIDField.FindStringSubmatch(line); sub != nil {
			pid, _ := strconv.Atoi(sub[1])
			pids = append(pids, pid)
		}
	}
	return pids
}

func TestAttachDaemonIsRestartedAndStoppedWithTheMaster(t *testing.T) {
	parallel(t)
	// The daemon says where it runs and then stays in the foreground.
	m, dir, _ := startEcho(t, "--processes", "1", "--attach-daemon", `echo "daemon up in $(pwd)"; exec sleep 300`)
	m.waitLog(`daemon up in `+regexp.QuoteMeta(dir), 1)
	first := daemonPIDs(t, m, 1)[0]
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`daemon exited; restarting it: .*killed by SIGKILL`, 1)
	second := daemonPIDs(t, m, 2)[1]
	if second == first || !alive(second) {
		t.Fatalf("daemon not restarted: first %d second %d", first, second)
	}
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	waitGone(t, []int{second}, 5*time.Second)
}

func TestPyAutoreloadReloadsWhenTheAppChanges(t *testing.T) {
	parallel(t)
	m, dir, sock := startEcho(t, "--processes", "2", "--py-autoreload", "1")
	app := filepath.Join(dir, "echo.py")
	changed := strings.Replace(echoApp, `body = str(os.getpid()).encode()`, `body = b"changed"`, 1)
	writeFile(t, app, changed)
	future := time.Now().Add(time.Minute) // a new mtime even on coarse clocks
	if err := os.Chtimes(app, future, future); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`a worker asked for a reload: .*reason=`+regexp.QuoteMeta(app), 1)
	m.waitLog(`all workers ready: generation=2`, 1)
	m.waitLog(`worker stopped: `, 2) // the old generation no longer accepts
	if _, body, err := uwsgiFetch(sock, "/pid"); err != nil || body != "changed" {
		t.Fatalf("after py-autoreload /pid = %q %v, want the changed app", body, err)
	}
	if n := len(m.waitLog(`py-autoreload: a module changed`, 1)); n != 1 {
		t.Fatalf("%d workers reported the change, want only worker 1", n)
	}
}
