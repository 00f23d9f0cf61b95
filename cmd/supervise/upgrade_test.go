package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestUpgradeInPlaceUnderLoad(t *testing.T) {
	pidfile := filepath.Join(shortTempDir(t), "app.pid")
	m, dir, sock := startEcho(t, "--pidfile", pidfile)
	base := startNginx(t, dir, "unix:"+sock)
	before := m.workerPids()
	ino := inode(t, sock)
	load := startLoad(base+"/pid", 6)
	var stderr strings.Builder
	if code := run([]string{"upgrade", "--pidfile", pidfile}, nil, &stderr); code != 0 {
		t.Fatalf("supervise upgrade: %d %s", code, stderr.String())
	}
	m.waitLog(`upgraded in place: adopted the running workers: workers=2 generation=1`, 1)
	m.waitLog(`all workers ready: generation=2`, 1)
	m.waitLog(`worker stopped: `, 2) // both adopted workers drained and were reaped by the new master
	ok, failed, firstErr := load.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d of %d requests failed across the upgrade: %v", failed, ok+failed, firstErr)
	}
	if !m.running() {
		t.Fatal("the master exited")
	}
	// The adopted workers' own log pipes passed to the new master: their
	// request lines still reach the log after the upgrade.
	logged := strings.SplitN(m.log(), "upgraded in place", 2)
	if !matchString(fmt.Sprintf(`request: .* pid=(%d|%d) `, before[0], before[len(before)-1]), logged[len(logged)-1]) {
		t.Fatal("no request line from an adopted worker after the upgrade: its log pipe was lost")
	}
	after := m.workerPids()
	for _, old := range before {
		for _, now := range after {
			if now == old {
				t.Fatalf("worker %d was not replaced", old)
			}
		}
	}
	if inode(t, sock) != ino {
		t.Fatal("the socket was re-created")
	}
	// The upgraded master still does everything: reload, then a clean stop.
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=3`, 1)
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	t.Logf("%d requests, 0 failed, across an in-place upgrade", ok)
	if testing.Verbose() {
		t.Log(m.log())
	}
}
