package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// procIDs reads the real uid and gid lines of /proc/PID/status.
func procIDs(t *testing.T, pid int) (uid, gid string) {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "Uid:" {
			uid = f[1]
		}
		if len(f) > 1 && f[0] == "Gid:" {
			gid = f[1]
		}
	}
	return uid, gid
}

func TestWorkersDropToUidGid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start workers as nobody")
	}
	m, _, sock := startEcho(t, "--uid", "nobody", "--gid", "nogroup")
	for _, pid := range m.workerPids() {
		if uid, gid := procIDs(t, pid); uid != "65534" || gid != "65534" {
			t.Fatalf("worker %d runs as %s:%s, want nobody:nogroup (65534)", pid, uid, gid)
		}
	}
	if uid, _ := procIDs(t, m.cmd.Process.Pid); uid != "0" {
		t.Fatalf("the master runs as %s, want root (it re-binds sockets on reload)", uid)
	}
	if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
		t.Fatal("a worker running as nobody does not serve")
	}
}

func TestUnknownUserIsAClearError(t *testing.T) {
	dir := shortTempDir(t)
	m := startMaster(t, dir, "--socket", dir+"/s.sock", "--uid", "no-such-user-here")
	if code := m.waitExit(); code == 0 {
		t.Fatal("started with an unknown uid")
	}
	m.waitLog(`uid "no-such-user-here"`, 1)
}
