package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// uwsgiProc is a real uWSGI started by a comparison test, its output in
// Log (dir/uwsgi.log).
type uwsgiProc struct {
	Log  string
	stop func()
}

// startUWSGI runs bin with args in dir. Stop (also run at the test's end)
// sends SIGINT, uWSGI's "stop now", and kills it after 10 s.
func startUWSGI(t *testing.T, bin, dir string, args ...string) *uwsgiProc {
	t.Helper()
	u := &uwsgiProc{Log: filepath.Join(dir, "uwsgi.log")}
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
	t.Cleanup(u.stop)
	return u
}

// Stop stops uWSGI and waits for it.
func (u *uwsgiProc) Stop() { u.stop() }
