package main

import (
	"regexp"
	"strconv"
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
