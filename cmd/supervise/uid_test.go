package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// worldExecutable copies the test binary where a dropped user can run it
// (go test's build directory is 0700): the master runs the front end from
// its own binary, as the workers' user.
func worldExecutable(t *testing.T, dir string) func(*exec.Cmd) {
	t.Helper()
	raw, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "supervise.test")
	if err := os.WriteFile(bin, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	return func(c *exec.Cmd) { c.Path, c.Args[0] = bin, bin }
}

// startDroppedFrontEnd runs the echo app behind --http with workers and
// front end as nobody:nogroup, under umask 022 (what a root shell has).
func startDroppedFrontEnd(t *testing.T, extra ...string) (m *masterProc, dir, base string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to start workers as nobody")
	}
	py := debianPython(t)
	dir = shortTempDir(t) // 0755: nobody reads echo.py
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	args := append([]string{"--http", addr, "--module", "echo", "--processes", "2", "--python-bin", py,
		"--chdir", dir, "--uid", "nobody", "--gid", "nogroup"}, extra...)
	m = startMasterWith(t, dir, worldExecutable(t, dir), args...)
	m.waitLog(`all workers ready`, 1)
	m.waitLog(`http(\.\d+)?: listening`, 1)
	return m, dir, "http://" + addr
}

func socketOwner(t *testing.T, path string) (uid, gid uint32, mode os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	return sys.Uid, sys.Gid, st.Mode().Perm()
}

func TestFrontEndAndWorkersAsNobodyServe(t *testing.T) {
	m, _, base := startDroppedFrontEnd(t)
	for i := 0; i < 20; i++ {
		if code, body := get(t, base+"/pid"); code != 200 {
			t.Fatalf("request %d through the front end as nobody: %d %q", i, code, body)
		}
	}
	front := daemonPIDs(t, m, 1)[0]
	if uid, gid := procIDs(t, front); uid != "65534" || gid != "65534" {
		t.Fatalf("front end runs as %s:%s, want nobody:nogroup", uid, gid)
	}
	private := fmt.Sprintf("%s/supervise-http-%d/uwsgi.sock", os.TempDir(), m.cmd.Process.Pid)
	if uid, gid, mode := socketOwner(t, private); uid != 65534 || gid != 65534 || mode != 0o600 {
		t.Fatalf("private socket %d:%d %o, want 65534:65534 0600", uid, gid, mode)
	}
}

func TestExplicitUnixSocketBelongsToTheWorkersUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start workers as nobody")
	}
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "app.sock")
	_, _, base := startDroppedFrontEnd(t, "--socket", sock)
	if code, body := get(t, base+"/pid"); code != 200 {
		t.Fatalf("through the front end to %s as nobody: %d %q", sock, code, body)
	}
	if uid, gid, _ := socketOwner(t, sock); uid != 65534 || gid != 65534 {
		t.Fatalf("socket %s belongs to %d:%d, want the workers' nobody:nogroup (as uWSGI)", sock, uid, gid)
	}
}
