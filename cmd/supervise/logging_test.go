package main

import (
	"encoding/json"
	"fmt"
	"net"
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
	parallel(t)
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

// logServer runs the echo app over HTTP with its log in dir/app.log.
func logServer(t *testing.T, extra ...string) (m *masterProc, base, logfile string) {
	t.Helper()
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logfile = filepath.Join(dir, "app.log")
	args := append([]string{"--http-socket", addr, "--module", "echo", "--processes", "2", "--threads", "2",
		"--python-bin", py, "--chdir", dir, "--logto", logfile}, extra...)
	m = startMaster(t, dir, args...)
	waitFileLine(t, logfile, `all workers ready`)
	return m, "http://" + addr, logfile
}

// requests sends n GETs of path from 4 clients and returns how many were
// answered.
func requests(t *testing.T, base, path string, n int) int {
	var wg sync.WaitGroup
	var ok atomic.Int32
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				if resp, err := http.Get(base + path); err == nil {
					resp.Body.Close()
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return int(ok.Load())
}

// requestLines counts the request lines for path in the files.
func requestLines(paths []string, path string) int {
	n := 0
	for _, p := range paths {
		raw, _ := os.ReadFile(p)
		n += strings.Count(string(raw), "request: method=GET path="+path+" ")
	}
	return n
}

// logrotate's create style: the file is moved, then postrotate sends
// SIGHUP. The master reopens the log before it reloads: every request
// line is in one of the two files, and none reaches the moved file once
// the new one says "log reopened".
func TestLogrotateCreateAndHUP(t *testing.T) {
	parallel(t)
	m, base, logfile := logServer(t, "--log-reopen")
	rotated := logfile + ".1"
	var sent atomic.Int32
	load := make(chan struct{})
	go func() { // requests all through the rotation
		defer close(load)
		sent.Add(int32(requests(t, base, "/during", 200)))
	}()
	waitFileLine(t, logfile, `path=/during `)
	if err := os.Rename(logfile, rotated); err != nil {
		t.Fatal(err)
	}
	m.signal(syscall.SIGHUP)
	waitFileLine(t, logfile, `log reopened`)
	before, _ := os.ReadFile(rotated)
	<-load
	after := requests(t, base, "/after", 100)
	waitFor(t, "every request line", func() bool {
		return requestLines([]string{logfile, rotated}, "/during") == int(sent.Load()) && requestLines([]string{logfile}, "/after") == after
	})
	if now, _ := os.ReadFile(rotated); len(now) != len(before) {
		t.Fatalf("the moved file grew after the reopen:\n%s", now[len(before):])
	}
	if requestLines([]string{rotated}, "/during") == 0 {
		t.Fatal("no request line in the moved file: the rotation did not happen under load")
	}
}

// logrotate's copytruncate style: the file is copied and emptied in
// place; the master appends (O_APPEND), so the next lines start at the
// beginning of the emptied file, not after a hole.
func TestLogrotateCopytruncate(t *testing.T) {
	parallel(t)
	_, base, logfile := logServer(t)
	rotated := logfile + ".1"
	first := requests(t, base, "/first", 100)
	waitFor(t, "the first request lines", func() bool { return requestLines([]string{logfile}, "/first") == first })
	raw, _ := os.ReadFile(logfile)
	writeFile(t, rotated, string(raw))
	if err := os.Truncate(logfile, 0); err != nil {
		t.Fatal(err)
	}
	second := requests(t, base, "/second", 100)
	waitFor(t, "the second request lines", func() bool { return requestLines([]string{logfile}, "/second") == second })
	now, _ := os.ReadFile(logfile)
	if len(now) == 0 || now[0] == 0 || requestLines([]string{logfile}, "/first") != 0 || requestLines([]string{rotated}, "/first") != first {
		t.Fatalf("after copytruncate: the file starts with %q; want the second requests' lines from byte 0", now[:min(len(now), 40)])
	}
}

// log-maxsize renames the file past the size (to FILE.<unix time> without
// log-backupname) and goes on in a new one, losing no line.
func TestLogMaxsize(t *testing.T) {
	parallel(t)
	_, base, logfile := logServer(t, "--log-maxsize", "20000")
	n := requests(t, base, "/sized", 200)
	var files []string
	waitFor(t, "every request line across the rotated files", func() bool {
		files, _ = filepath.Glob(logfile + "*")
		return requestLines(files, "/sized") == n
	})
	if len(files) != 2 || !matchString(`app\.log\.\d{10}$`, files[0]+files[1]) {
		t.Fatalf("files %v, want app.log and app.log.<unix time>", files)
	}
	st, _ := os.Stat(logfile)
	if st.Size() >= 20000 {
		t.Fatalf("app.log is %d bytes after rotation at 20000", st.Size())
	}
}

// SIGIO reopens the log without a reload (no worker is replaced).
func TestSIGIOReopensTheLog(t *testing.T) {
	parallel(t)
	m, _, logfile := logServer(t)
	if err := os.Rename(logfile, logfile+".1"); err != nil {
		t.Fatal(err)
	}
	m.signal(syscall.SIGIO)
	waitFileLine(t, logfile, `log reopened`)
	if raw, _ := os.ReadFile(logfile); strings.Contains(string(raw), "spawned worker") {
		t.Fatalf("SIGIO reloaded the workers:\n%s", raw)
	}
}

// log-encoder = json: every line of the file, the master's, the workers'
// and request lines, and what the app prints and the traceback it raises,
// is one JSON object with the same four keys; log-json is the shorthand.
func TestLogEncoderJSON(t *testing.T) {
	parallel(t)
	for _, flag := range []string{"--log-encoder=json", "--log-json"} {
		py := debianPython(t)
		dir := shortTempDir(t)
		writeFile(t, filepath.Join(dir, "noisy.py"), noisyApp)
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		logfile := filepath.Join(dir, "app.log")
		m := startMaster(t, dir, "--http-socket", addr, "--module", "noisy", "--processes", "2", "--threads", "1",
			"--python-bin", py, "--chdir", dir, "--logto", logfile, flag)
		waitFileLine(t, logfile, `all workers ready`)
		for i := 0; i < 6; i++ {
			get(t, "http://"+addr+"/j")
		}
		m.signal(syscall.SIGTERM)
		m.waitExit()
		raw, _ := os.ReadFile(logfile)
		kinds := map[string]int{}
		for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
			var obj map[string]any
			if err := json.Unmarshal([]byte(l), &obj); err != nil {
				t.Fatalf("%s: not a JSON line: %q", flag, l)
			}
			for _, k := range []string{"@timestamp", "@level", "@module", "@message"} {
				if _, ok := obj[k]; !ok {
					t.Fatalf("%s: line without %s: %q", flag, k, l)
				}
			}
			msg, _ := obj["@message"].(string)
			switch {
			case obj["@message"] == "request" && obj["path"] == "/j":
				kinds["request"]++
			case strings.HasPrefix(msg, "piece-A "):
				kinds["app"]++
			case obj["traceback"] != nil:
				kinds["traceback"]++
			case strings.HasPrefix(fmt.Sprint(obj["@module"]), "supervise"):
				kinds["master"]++
			}
		}
		if kinds["request"] != 6 || kinds["app"] != 6 || kinds["traceback"] != 2 || kinds["master"] < 4 {
			t.Fatalf("%s: lines by kind %v; want 6 requests, 6 app lines, 2 tracebacks, the master's", flag, kinds)
		}
	}
}

// logger = file:PATH and logger = socket:HOST:PORT (UDP, a datagram per
// line) both get every line; logto gets none once a logger is set, as in
// uWSGI.
func TestLoggerFileAndUDP(t *testing.T) {
	parallel(t)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	target, logfile := filepath.Join(dir, "target.log"), filepath.Join(dir, "app.log")
	startMaster(t, dir, "--http-socket", addr, "--module", "echo", "--processes", "2", "--python-bin", py, "--chdir", dir,
		"--logto", logfile, "--logger", "file:"+target, "--logger", "socket:"+udp.LocalAddr().String())
	waitFileLine(t, target, `all workers ready`)
	get(t, "http://"+addr+"/via-logger")
	waitFileLine(t, target, `path=/via-logger `)
	buf := make([]byte, 65536)
	udp.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got []string
	for !strings.Contains(strings.Join(got, ""), "path=/via-logger ") {
		n, _, err := udp.ReadFrom(buf)
		if err != nil {
			t.Fatalf("UDP logger: %v after %q", err, got)
		}
		if strings.Count(string(buf[:n]), "\n") != 1 {
			t.Fatalf("a datagram is not one line: %q", buf[:n])
		}
		got = append(got, string(buf[:n]))
	}
	if raw, _ := os.ReadFile(logfile); len(raw) != 0 {
		t.Fatalf("logto got lines although a logger is set:\n%s", raw)
	}
}

// logger = syslog:IDENT,FACILITY sends each line as one message in C's
// syslog() format to the daemon's unix datagram socket (syslog-socket, a
// socket of the test's here), and logger = socket:/PATH,PREFIX sends
// datagrams to a unix socket, each after the prefix.
func TestLoggerSyslogAndUnixSocket(t *testing.T) {
	processTest(t)
	dir := shortTempDir(t)
	listen := func(name string) net.PacketConn {
		c, err := net.ListenPacket("unixgram", filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		return c
	}
	syslogd, other := listen("log.sock"), listen("other.sock")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startMaster(t, dir, "--http-socket", addr, "--processes", "1", "--syslog-socket", filepath.Join(dir, "log.sock"),
		"--logger", "syslog:myapp,local3", "--logger", "socket:"+filepath.Join(dir, "other.sock")+",PFX:",
		"--env", envHelper+"=goworker", "--", os.Args[0])
	waitFor(t, "a server on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	get(t, "http://"+addr+"/via-syslog")
	read := func(c net.PacketConn, want *regexp.Regexp) string {
		buf := make([]byte, 65536)
		for {
			n, _, err := c.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no datagram matching %s: %v", want, err)
			}
			if want.Match(buf[:n]) {
				return string(buf[:n])
			}
		}
	}
	// local3 (19 << 3) | info (6) = 158; no pid, as uWSGI opens the log
	// without LOG_PID; one message per line, without its newline.
	read(syslogd, regexp.MustCompile(`^<158>[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d myapp: \S+ \[INFO\]  worker\.1: request: method=GET path=/via-syslog status=200 [^\n]*$`))
	read(other, regexp.MustCompile(`^PFX:\S+ \[INFO\]  worker\.1: request: method=GET path=/via-syslog [^\n]*\n$`))
}

// log-route sends the lines its regexp matches to a named logger and
// nowhere else; the other lines go to logto, as in uWSGI (a named
// logger gets nothing else).
func TestLogRouteToNamedLogger(t *testing.T) {
	processTest(t)
	dir := shortTempDir(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logfile, reqs := filepath.Join(dir, "app.log"), filepath.Join(dir, "requests.log")
	startMaster(t, dir, "--http-socket", addr, "--processes", "1", "--logto", logfile,
		"--logger", "reqs file:"+reqs, "--log-route", `reqs request: method=\S+ path=/routed`,
		"--env", envHelper+"=goworker", "--", os.Args[0])
	waitFileLine(t, logfile, `all workers ready`)
	get(t, "http://"+addr+"/routed")
	get(t, "http://"+addr+"/not-routed")
	waitFileLine(t, logfile, `path=/not-routed `)
	waitFileLine(t, reqs, `path=/routed `)
	raw, _ := os.ReadFile(logfile)
	routed, _ := os.ReadFile(reqs)
	if strings.Contains(string(raw), "path=/routed ") || strings.Count(string(routed), "\n") != 1 {
		t.Fatalf("logto:\n%s\nrequests.log:\n%s", raw, routed)
	}
}
