package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func writeFIFO(t *testing.T, path, cmd string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(cmd); err != nil {
		t.Fatal(err)
	}
}

func TestMasterFIFO(t *testing.T) {
	parallel(t)
	fifo := filepath.Join(shortTempDir(t), "master.fifo")
	logPath := filepath.Join(shortTempDir(t), "app.log")
	py := debianPython(t)
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "app.sock")
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	startMaster(t, dir, "--socket", sock, "--module", "echo", "--processes", "2", "--threads", "2",
		"--python-bin", py, "--chdir", dir, "--master-fifo", fifo, "--logto", logPath)
	logged := func(re string, n int) { t.Helper(); waitFileLog(t, logPath, re, n) }
	logged(`all workers ready: generation=1`, 1)
	fi, err := os.Stat(fifo)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("fifo %v %v, want a 0600 FIFO", fi.Mode(), err)
	}

	base := startNginx(t, dir, "unix:"+sock)
	load := startLoad(base+"/pid", 6)
	writeFIFO(t, fifo, "c") // chain reload under load
	logged(`all workers ready: generation=2`, 1)
	writeFIFO(t, fifo, "r")
	logged(`all workers ready: generation=3`, 1)
	if ok, failed, firstErr := load.finish(); failed != 0 {
		t.Fatalf("%d of %d requests failed during chain and graceful reloads: %v", failed, ok+failed, firstErr)
	}

	writeFIFO(t, fifo, ":scale 3\n")
	logged(`scaling the pool: from=2 to=3`, 1)
	writeFIFO(t, fifo, "s")
	logged(`stats: workers=3`, 1)

	rotated := logPath + ".1" // logrotate moves the file, then asks for a reopen
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	writeFIFO(t, fifo, "l")
	logged(`log reopened`, 1)
	if code, _ := get(t, base+"/after-rotate"); code != 200 {
		t.Fatal("request after log rotation failed")
	}
	logged(`request: method=GET path=/after-rotate`, 1) // a worker's line lands in the new file

	writeFIFO(t, fifo, "q")
	waitFileLog(t, rotated, `all workers ready: generation=3`, 1) // the old file kept its lines
	logged(`graceful shutdown`, 1)
}

// waitFileLog waits until the file holds n lines matching re.
func waitFileLog(t *testing.T, path, re string, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		raw, _ := os.ReadFile(path)
		count := 0
		for _, line := range strings.Split(string(raw), "\n") {
			if matchString(re, line) {
				count++
			}
		}
		if count >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no %d lines matching %q:\n%s", path, n, re, raw)
		}
		time.Sleep(20 * time.Millisecond) // a log file has no change event to wait on
	}
}

func TestTouchReload(t *testing.T) {
	parallel(t)
	touch := filepath.Join(shortTempDir(t), "reload.me")
	writeFile(t, touch, "")
	m, _, _ := startEcho(t, "--touch-reload", touch)
	later := time.Now().Add(2 * time.Second)
	if err := os.Chtimes(touch, later, later); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`touch-reload: file changed; reloading`, 1)
	m.waitLog(`all workers ready: generation=2`, 1)
}

func TestScaleAndStopVerbsThroughTheFIFO(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	fifo := filepath.Join(dir, "m.fifo")
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, "[uwsgi]\nmaster-fifo = "+fifo+"\n")
	m, _, _ := startEcho(t, "--master-fifo", fifo)
	var stderr strings.Builder
	if code := run([]string{"scale", "--ini", ini, "3"}, nil, &stderr); code != 0 {
		t.Fatalf("scale: %d %s", code, stderr.String())
	}
	m.waitLog(`scaling the pool: from=2 to=3`, 1)
	if code := run([]string{"reload", "--chain", "--fifo", fifo}, nil, &stderr); code != 0 {
		t.Fatalf("reload --chain: %d %s", code, stderr.String())
	}
	m.waitLog(`chain reload: starting a new generation`, 1)
	// A reload reads the configuration again: the scaled pool goes back to processes = 2.
	m.waitLog(`all workers ready: generation=2 workers=2`, 1)
	if code := run([]string{"stop", "--now", "--fifo", fifo}, nil, &stderr); code != 0 {
		t.Fatalf("stop --now: %d %s", code, stderr.String())
	}
	m.waitLog(`immediate shutdown`, 1)
	m.waitExit()
	if code := run([]string{"scale", "--pidfile", "/nonexistent", "3"}, nil, &stderr); code != 2 || !strings.Contains(stderr.String(), "master-fifo") {
		t.Fatalf("scale without a FIFO: %d %q", code, stderr.String())
	}
	_ = syscall.SIGTERM
}
