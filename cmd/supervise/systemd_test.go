package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/supervisor"
)

// receiveUntil records what the master tells a fake systemd until want arrives.
func receiveUntil(t *testing.T, l *ipc.NotifyListener, want string, seen *[]string) ipc.Notification {
	t.Helper()
	type result struct {
		n   ipc.Notification
		err error
	}
	deadline := time.After(30 * time.Second)
	for {
		ch := make(chan result, 1)
		go func() { n, err := l.Receive(); ch <- result{n, err} }()
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatal(r.err)
			}
			for k, v := range r.n.Fields {
				if k != "STATUS" && k != "MONOTONIC_USEC" && k != "MAINPID" && k != "EXTEND_TIMEOUT_USEC" {
					*seen = append(*seen, k+"="+v)
				}
			}
			if k, v, _ := strings.Cut(want, "="); r.n.Fields[k] == v {
				return r.n
			}
		case <-deadline:
			t.Fatalf("systemd never got %s; got %v", want, *seen)
		}
	}
}

func TestSystemdNotifySequence(t *testing.T) {
	py := debianPython(t)
	dir := shortTempDir(t)
	l, err := ipc.ListenNotify(filepath.Join(dir, "systemd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	m := startMasterWith(t, dir, func(c *exec.Cmd) {
		c.Env = append(c.Env, "NOTIFY_SOCKET="+l.Path, "WATCHDOG_USEC=200000")
	}, "--socket", filepath.Join(dir, "s.sock"), "--module", "echo", "--processes", "2", "--python-bin", py, "--chdir", dir)
	var seen []string
	n := receiveUntil(t, l, "READY=1", &seen)
	if n.PID != m.cmd.Process.Pid || n.Fields["MAINPID"] != strconv.Itoa(m.cmd.Process.Pid) {
		t.Fatalf("READY=1 from pid %d MAINPID %s, want the master %d", n.PID, n.Fields["MAINPID"], m.cmd.Process.Pid)
	}
	receiveUntil(t, l, "WATCHDOG=1", &seen)
	m.signal(syscall.SIGHUP)
	n = receiveUntil(t, l, "RELOADING=1", &seen)
	if n.Fields["MONOTONIC_USEC"] == "" || n.Fields["EXTEND_TIMEOUT_USEC"] != "15000000" {
		t.Fatalf("RELOADING=1 without MONOTONIC_USEC or EXTEND_TIMEOUT_USEC=15000000: %v", n.Fields)
	}
	receiveUntil(t, l, "READY=1", &seen)
	m.signal(syscall.SIGTERM)
	if n = receiveUntil(t, l, "STOPPING=1", &seen); n.Fields["EXTEND_TIMEOUT_USEC"] != "15000000" {
		t.Fatalf("STOPPING=1 without EXTEND_TIMEOUT_USEC: %v", n.Fields)
	}
	var order []string
	for _, s := range seen {
		if s != "WATCHDOG=1" {
			order = append(order, s)
		}
	}
	if strings.Join(order, " ") != "READY=1 RELOADING=1 READY=1 STOPPING=1" {
		t.Fatalf("notify sequence %v", order)
	}
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func TestSocketActivationAdoptsSystemdSockets(t *testing.T) {
	py := debianPython(t)
	dir := shortTempDir(t)
	path := filepath.Join(dir, "activated.sock")
	ln, err := net.Listen("unix", path) // what systemd's .socket unit would bind
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	f, _ := ln.(*net.UnixListener).File()
	ln.Close()
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	// The trampoline sets LISTEN_PID to the master's pid, as systemd does.
	m := startMasterWith(t, dir, func(c *exec.Cmd) {
		c.ExtraFiles = []*os.File{f}
		c.Env = append(c.Env, "LISTEN_FDS=1", "LISTEN_FDNAMES=app")
	}, supervisor.TrampolineArg, os.Args[0], os.Args[0],
		"--socket", path, "--module", "echo", "--python-bin", py, "--chdir", dir, "--vacuum")
	f.Close()
	m.waitLog(`listening on an inherited socket .*: address=`+path, 1)
	m.waitLog(`all workers ready`, 1)
	if code, body := uwsgiGet(t, path, "/pid"); code != 200 || body == "" {
		t.Fatalf("through the adopted socket: %d %q", code, body)
	}
	m.signal(syscall.SIGTERM)
	m.waitExit()
	if _, err := os.Stat(path); err != nil {
		t.Fatal("vacuum removed systemd's socket file")
	}
}

// A reload whose new generation cannot load the app leaves the old one
// serving; systemd must hear READY=1 again, or the unit stays "reloading".
func TestSystemdHearsReadyAfterAFailedReload(t *testing.T) {
	dir := shortTempDir(t)
	l, err := ipc.ListenNotify(filepath.Join(dir, "systemd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m, _, _, ini := startWithBrokenModuleAsideEnv(t, dir, "NOTIFY_SOCKET="+l.Path)
	var seen []string
	receiveUntil(t, l, "READY=1", &seen)
	writeFile(t, ini, strings.Replace(readFile(t, ini), "module = echo", "module = broken", 1))
	m.signal(syscall.SIGHUP)
	receiveUntil(t, l, "RELOADING=1", &seen)
	n := receiveUntil(t, l, "READY=1", &seen)
	if status := n.Fields["STATUS"]; !strings.Contains(status, "reload failed") || !strings.Contains(status, "generation 1 keeps serving") {
		t.Fatalf("READY=1 after a failed reload with STATUS=%q", status)
	}
	m.waitLog(`reload failed: .*before it was ready`, 1)
	if strings.Join(seen, " ") != "READY=1 RELOADING=1 READY=1" {
		t.Fatalf("notify sequence %v", seen)
	}
}
