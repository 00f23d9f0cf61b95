package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// uwsgiProc is a real uWSGI started by a comparison test, serving on
// Addr, its output in Log (dir/uwsgi.log).
type uwsgiProc struct {
	Addr string
	Log  string
	stop func()
	done chan struct{} // closed when the uWSGI master has exited
}

// startUWSGI runs bin with args in dir; addr is the TCP address the args
// make it serve on. The test's end stops it (see Stop).
func startUWSGI(t *testing.T, bin, dir, addr string, args ...string) *uwsgiProc {
	t.Helper()
	u := &uwsgiProc{Addr: addr, Log: filepath.Join(dir, "uwsgi.log")}
	logf, err := os.Create(u.Log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	u.done = done
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	var once sync.Once
	u.stop = func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		})
	}
	t.Cleanup(func() {
		u.stop()
		if t.Failed() {
			log, _ := os.ReadFile(u.Log)
			t.Logf("uWSGI's log:\n%s", log)
		}
	})
	return u
}

// Stop sends SIGINT, uWSGI's "stop now" (SIGKILL after 10 s), waits for
// the master to exit and then for Addr to refuse connections: uWSGI's
// workers may hold the socket a little longer, and the test's next
// server binds the same address.
func (u *uwsgiProc) Stop(t *testing.T) {
	t.Helper()
	u.stop()
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.Dial("tcp", u.Addr)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("uWSGI's socket %s still answers 20 s after it stopped", u.Addr)
		}
		time.Sleep(20 * time.Millisecond) // the kernel says nothing when the last holder closes it
	}
}

// waitUnix waits until uWSGI accepts connections on the unix socket
// sock, failing with its log when it exits or 20 s pass.
func (u *uwsgiProc) waitUnix(t *testing.T, sock string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-u.done:
			log, _ := os.ReadFile(u.Log)
			t.Fatalf("uWSGI exited before it listened on %s:\n%s", sock, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(u.Log)
			t.Fatalf("uWSGI never listened on %s:\n%s", sock, log)
		}
		time.Sleep(20 * time.Millisecond) // a unix socket has no readiness event to wait on
	}
}

// Get fetches url, retrying until uWSGI answers (for 30 s), and returns
// the body.
func (u *uwsgiProc) Get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(u.Log)
			t.Fatalf("uWSGI never answered %s: %v\n%s", url, err, log)
		}
		time.Sleep(50 * time.Millisecond) // polling a foreign server's start; it has no readiness signal here
	}
}
