package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// noisyApp writes what real apps write: a line in two pieces on stderr
// (flushed between them), block-buffered prints on stdout (flushed in
// 8 KiB chunks that cut lines anywhere) and, every third request, an
// exception whose traceback the worker logs.
const noisyApp = `import os, sys
n = [0]
def application(environ, start_response):  # one thread per worker: its own lines cannot interleave
    n[0] += 1
    sys.stderr.write("piece-A %d %d " % (os.getpid(), n[0]))
    sys.stderr.flush()
    sys.stderr.write("y" * 300 + " piece-B\n")
    print("stdout %d %d %s" % (os.getpid(), n[0], "z" * 700))
    if n[0] % 3 == 0:
        raise ValueError("boom %d %s" % (os.getpid(), "x" * 500))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
`

// wholeLine is every line the log may hold while noisyApp serves: the
// master's and the workers' own lines, and the app's lines whole.
var wholeLine = regexp.MustCompile(`^(` +
	`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\S* \[(DEBUG|INFO|WARN|ERROR)\] +(supervise|worker)[.\w]*: [^\x00]*` + // master and worker lines
	`|piece-A \d+ \d+ y{300} piece-B` +
	`|stdout \d+ \d+ z{700}` +
	`|  Traceback \(most recent call last\):` +
	`|    File "[^"]+", line \d+, in \w+` +
	`|      (raise ValueError\("boom %d %s" % \(os.getpid\(\), "x" \* 500\)\)|result = self.app\(environ, resp.start_response\)| *\^+)` +
	`|  ValueError: boom \d+ x{500}` +
	`)$`)

// The master copies each process's output line by line: under load,
// with tracebacks, pieces and block-buffered stdout from four workers
// and the master logging recycles, no line is spliced into another.
func TestWorkerLinesNeverSplice(t *testing.T) {
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "noisy.py"), noisyApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logfile := filepath.Join(dir, "app.log")
	m := startMaster(t, dir, "--http-socket", addr, "--module", "noisy", "--processes", "4", "--threads", "1",
		"--max-requests", "40", "--min-worker-lifetime", "0", "--python-bin", py, "--chdir", dir, "--logto", logfile)
	waitFileLine(t, logfile, `all workers ready`)
	var wg sync.WaitGroup
	var served, reloaded atomic.Int32
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				if resp, err := http.Get("http://" + addr + "/"); err == nil {
					resp.Body.Close()
					if served.Add(1) == 150 && reloaded.Add(1) == 1 {
						m.signal(syscall.SIGHUP) // the master logs the reload among the workers' lines
					}
				}
			}
		}()
	}
	wg.Wait()
	m.signal(syscall.SIGTERM) // graceful: the workers' last lines are flushed before the master exits
	m.waitExit()
	raw, err := os.ReadFile(logfile)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	pieces, outs, master := 0, 0, 0
	for _, l := range lines {
		if !wholeLine.MatchString(l) {
			t.Fatalf("spliced or unexpected line: %q", l)
		}
		switch {
		case strings.HasPrefix(l, "piece-A"):
			pieces++
		case strings.HasPrefix(l, "stdout "):
			outs++
		case strings.Contains(l, "supervise.master: "):
			master++
		}
	}
	if n := int(served.Load()); pieces != n || outs != n || master < 10 {
		t.Fatalf("%d piece lines and %d stdout lines for %d requests (want one each), %d master lines (want the reload's)", pieces, outs, n, master)
	}
}

// waitFileLine waits until the file has a line matching re.
func waitFileLine(t *testing.T, path, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	waitFor(t, "a line matching "+re+" in "+path, func() bool {
		raw, _ := os.ReadFile(path)
		return rx.Match(raw)
	})
}

// waitFor polls cond until it holds: a file growing has no event to wait
// on (the way waitGone polls /proc).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func grepLines(lines []string, sub string) string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
