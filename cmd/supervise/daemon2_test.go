package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func pidFromFile(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q", path, b)
	}
	return pid
}

func killAtEnd(t *testing.T, pidfile string) {
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidfile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
}

func TestSmartDaemonOutlivesTheMasterAndIsFoundAgain(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	pidfile := filepath.Join(dir, "smart.pid")
	killAtEnd(t, pidfile)
	args := []string{"--processes", "1", "--smart-attach-daemon2", pidfile + ` sh -c 'echo smart up; exec sleep 300'`}
	m, _, _ := startEcho(t, args...)
	m.waitLog(`smart up`, 1)
	first := daemonPIDs(t, m, 1)[0]
	if got := pidFromFile(t, pidfile); got != first {
		t.Fatalf("pidfile says %d, the daemon is %d", got, first)
	}
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !alive(first) {
		t.Fatal("a smart daemon did not outlive the master")
	}
	m2, _, _ := startEcho(t, args...)
	m2.waitLog(`daemon found running .*pid=`+strconv.Itoa(first), 1)
	if strings.Contains(m2.log(), "started daemon") {
		t.Fatal("a second master started the smart daemon again")
	}
	syscall.Kill(first, syscall.SIGKILL)
	m2.waitLog(`daemon is gone .*starting it again`, 1)
	m2.waitLog(`smart up`, 1)
	second := daemonPIDs(t, m2, 1)[0]
	if second == first {
		t.Fatalf("the daemon was not restarted: pid %d", second)
	}
	// The master writes the pidfile once the daemon started; its output
	// ("smart up") can reach the log first.
	waitFor(t, "the pidfile to name the restarted daemon", func() bool {
		b, _ := os.ReadFile(pidfile)
		return strings.TrimSpace(string(b)) == strconv.Itoa(second)
	})
}

func TestSmartDaemonThatDaemonizes(t *testing.T) {
	dir := shortTempDir(t)
	pidfile := filepath.Join(dir, "d.pid")
	killAtEnd(t, pidfile)
	m, _, _ := startEcho(t, "--processes", "1", "--smart-attach-daemon", pidfile+` sh -c 'sleep 300 >/dev/null 2>&1 & echo $! > `+pidfile+`'`)
	m.waitLog(`daemon's command daemonized`, 1)
	m.waitLog(`daemon's pidfile names a live process`, 1)
	pid := pidFromFile(t, pidfile)
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !alive(pid) {
		t.Fatal("the daemonized process did not outlive the master")
	}
}

func TestAttachDaemon2SignalsAndTouch(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	touch := filepath.Join(dir, "restart")
	writeFile(t, touch, "")
	m, _, _ := startEcho(t, "--processes", "1", "--attach-daemon2",
		`cmd=sh -c 'trap "echo d2 got HUP" HUP; trap "echo d2 got INT; exit 0" INT; echo d2 up; while :; do sleep 0.1; done',reloadsignal=1,stopsignal=2,touch=`+touch)
	m.waitLog(`d2 up`, 1)
	m.signal(syscall.SIGHUP)
	m.waitLog(`d2 got HUP`, 1)
	m.waitLog(`all workers ready: generation=2`, 1)
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(touch, future, future); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`d2 got INT`, 1)
	m.waitLog(`d2 up`, 2)
	m.signal(syscall.SIGTERM)
	m.waitLog(`d2 got INT`, 2)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestControlDaemonStopsTheMaster(t *testing.T) {
	stop := filepath.Join(shortTempDir(t), "stop")
	m, _, _ := startEcho(t, "--processes", "1", "--attach-daemon2", `cmd=sh -c 'while [ ! -e `+stop+` ]; do sleep 0.05; done',control=1`)
	writeFile(t, stop, "")
	m.waitLog(`a control daemon exited: stopping the master`, 1)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
