package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// An app that leaves an orphan: the orphan's parent exits at once, so the
// kernel hands it to PID 1. It waits on a FIFO the test opens.
const orphanApp = `
import os, subprocess, sys
LEAVE = "import os, sys\nif os.fork(): os._exit(0)\nopen(sys.argv[1]).read()\n"
def application(environ, start_response):
    p = subprocess.Popen([sys.executable, "-c", LEAVE, environ["QUERY_STRING"], "orphan-marker"])
    p.wait()  # the middle process exits at once; its child is the orphan
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
`

// children lists the pids whose parent is pid.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		raw, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(raw)) {
			n, _ := strconv.Atoi(f)
			out = append(out, n)
		}
	}
	return out
}

func procState(pid int) (state byte, cmdline string) {
	f := statFields(pid)
	if len(f) == 0 {
		return 0, ""
	}
	cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return f[0][0], string(cmd)
}

func TestAsPID1TheMasterReapsOrphans(t *testing.T) {
	processTest(t)
	py := debianPython(t)
	unshare := requireTool(t, "unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "true")
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "app.sock")
	fifo := filepath.Join(dir, "release.fifo")
	writeFile(t, filepath.Join(dir, "orphan.py"), orphanApp)
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	// The master as PID 1 of a new pid namespace, as in a container.
	cmd := exec.Command(unshare, "--pid", "--fork", "--kill-child", "--mount-proc", os.Args[0],
		"--socket", sock, "--module", "orphan", "--chdir", dir, "--python-bin", py)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	p := &masterProc{t: t, cmd: cmd, grew: make(chan struct{}), done: make(chan struct{})}
	out, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.collect(out)
	t.Cleanup(func() {
		cmd.Process.Kill() // --kill-child takes the master down with it
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
		if t.Failed() {
			t.Logf("master log:\n%s", p.log())
		}
	})
	p.waitLog(`all workers ready`, 1)
	kids := children(cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("unshare's children %v, want the master", kids)
	}
	master := kids[0]
	if code, _ := uwsgiGet(t, sock, "/?"+fifo); code != 200 {
		t.Fatal("request failed")
	}
	orphan := 0
	deadline := time.Now().Add(20 * time.Second)
	for orphan == 0 && time.Now().Before(deadline) {
		for _, c := range children(master) {
			if _, cmdline := procState(c); strings.Contains(cmdline, "orphan-marker") {
				orphan = c
			}
		}
		time.Sleep(10 * time.Millisecond) // /proc has no change event
	}
	if orphan == 0 {
		t.Fatal("the orphan was never reparented to the master (PID 1)")
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // releases the orphan: cat reads EOF and exits
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for time.Now().Before(deadline) {
		if state, _ := procState(orphan); state == 0 {
			return // exited and reaped: no zombie left
		}
		time.Sleep(10 * time.Millisecond)
	}
	state, _ := procState(orphan)
	t.Fatalf("the orphan is still there in state %c: PID 1 did not reap it", state)
}
