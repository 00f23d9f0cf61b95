package main

import (
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// An every-minute entry is due in the minute the master starts, so its
// first run comes at once; later minutes are the unit tests' (fake clock).
func TestCronRunsFromTheMasterAndHarakiriKillsItsGroup(t *testing.T) {
	parallel(t)
	m, dir, _ := startEcho(t, "--processes", "1", "--cron-harakiri", "1",
		"--cron", `-1 -1 -1 -1 -1 sleep 300 & echo "cron child $! in $(pwd)"; wait`)
	m.waitLog(`cron: running: cron=`, 1)
	line := m.waitLog(`cron child \d+ in `+regexp.QuoteMeta(dir), 1)[0]
	child, _ := strconv.Atoi(regexp.MustCompile(`cron child (\d+)`).FindStringSubmatch(line)[1])
	m.waitLog(`HARAKIRI ON CRON`, 1)
	m.waitLog(`cron: command exited: .*killed by SIGKILL`, 1)
	waitGone(t, []int{child}, 5*time.Second) // the command's own child, in its process group
}

func TestShutdownStopsARunningCron(t *testing.T) {
	parallel(t)
	m, _, _ := startEcho(t, "--processes", "1", "--cron2", `trap "echo cron got TERM; exit 0" TERM; echo cron waiting; while :; do sleep 0.1; done`)
	m.waitLog(`cron waiting`, 1)
	m.signal(syscall.SIGTERM)
	m.waitLog(`cron got TERM`, 1)
	m.waitLog(`cron: command exited: .*exit code 0`, 1)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
