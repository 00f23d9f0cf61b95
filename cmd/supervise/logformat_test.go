package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const formatApp = `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-A", "1")])
    return [b"hello world\n"]
`

// The part before " | " must match uWSGI's byte for byte; after it the
// clock's fields, compared with every number masked.
const uwsgiLogFormat = `%(addr) - %(user) "%(method) %(uri) %(proto)" %(status) %(rsize) "%(referer)" "%(uagent)" %(host) ` +
	`%(var.HTTP_X_TEST) %(var.QUERY_STRING) %(cookie.sid) %(nolv) %(core) %(wid) %(cl) %(headers) %(switches) %(werr) %(%(x)) 50% ` +
	`| [%(ltime)] [%(ctime)] [%(ftime)] %(time) %(epoch) %(tmsecs) %(tmicros) %(msecs) %(micros) %(secs)`

var formatRequests = []string{
	"GET /p?q=1 HTTP/1.1\r\nHost: ex.com\r\nUser-Agent: ua/1\r\nReferer: http://r/\r\nX-Test: xt\r\nX-Forwarded-For: 203.0.113.9, 10.0.0.1\r\nCookie: sid=abc; o=1\r\nConnection: close\r\n\r\n",
	"POST /post HTTP/1.0\r\nHost: ex.com\r\nContent-Length: 3\r\n\r\nabc",
	"GET /missing%20x HTTP/1.0\r\nHost: h\r\n\r\n",
}

// log-format lines from a Python worker equal uWSGI 2.0.21's for the same
// requests, with log-date's format in %(ftime) and log-x-forwarded-for.
func TestLogFormatMatchesUWSGI(t *testing.T) {
	parallel(t)
	uwsgi := requireTool(t, "uwsgi", "--version")
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "app.py"), formatApp)
	flags := []string{"--log-format", uwsgiLogFormat, "--log-date=%Y-%m-%d", "--logformat-strftime", "--log-x-forwarded-for"}

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ulog := filepath.Join(dir, "uwsgi.log")
	cmd := exec.Command(uwsgi, append([]string{"--plugins", "python3", "--http-socket", addr, "--wsgi-file", "app.py",
		"--chdir", dir, "--master", "--processes", "1", "--logto", ulog}, flags...)...)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	want := sendAndCollect(t, addr, ulog)

	addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	slog := filepath.Join(dir, "supervise.log")
	startMaster(t, dir, append([]string{"--http-socket", addr, "--wsgi-file", "app.py", "--processes", "1",
		"--python-bin", py, "--chdir", dir, "--logto", slog}, flags...)...)
	got := sendAndCollect(t, addr, slog)

	if !strings.HasPrefix(got[0], "203.0.113.9, 10.0.0.1 - ") { // log-x-forwarded-for: the whole header, as uWSGI
		t.Errorf("log-x-forwarded-for: %q", got[0])
	}
	digits := regexp.MustCompile(`\d+`)
	for i := range want {
		w, g := strings.SplitN(want[i], " | ", 2), strings.SplitN(got[i], " | ", 2)
		if len(w) != 2 || len(g) != 2 || w[0] != g[0] || digits.ReplaceAllString(w[1], "0") != digits.ReplaceAllString(g[1], "0") {
			t.Errorf("request %d:\nuwsgi:     %q\nsupervise: %q", i, want[i], got[i])
		}
	}
}

// sendAndCollect waits for the server at addr, sends formatRequests one
// connection each, and returns the request lines its log got.
func sendAndCollect(t *testing.T, addr, logfile string) []string {
	t.Helper()
	waitFor(t, "a server on "+addr, func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	for _, raw := range formatRequests {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		io.ReadAll(c)
		c.Close()
	}
	var lines []string
	waitFor(t, "the request lines in "+logfile, func() bool {
		raw, _ := os.ReadFile(logfile)
		lines = nil
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.Contains(l, " | [") {
				lines = append(lines, l)
			}
		}
		return len(lines) >= len(formatRequests)
	})
	return lines
}

const statusApp = `import time
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/err":
        raise RuntimeError("boom")
    if path == "/slow":
        time.sleep(0.3)
    body = {"/big": b"b" * 5000, "/empty": b""}.get(path, b"ok")
    start_response("404 Not Found" if path.startswith("/nf") else "200 OK", [("Content-Type", "text/plain")])
    return [body]
`

// With disable-logging, log-4xx, log-5xx, log-slow, log-big and log-zero
// still log the requests that match any one of them, and only those.
func TestDisableLoggingWithExceptions(t *testing.T) {
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "status.py"), statusApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logfile := filepath.Join(dir, "app.log")
	startMaster(t, dir, "--http-socket", addr, "--module", "status", "--processes", "1", "--threads", "1",
		"--python-bin", py, "--chdir", dir, "--logto", logfile, "--disable-logging",
		"--log-4xx", "--log-5xx", "--log-slow", "200", "--log-big", "4000", "--log-zero")
	waitFileLine(t, logfile, `all workers ready`)
	for _, p := range []string{"/ok", "/nf", "/err", "/slow", "/big", "/empty", "/ok2", "/nf-last"} {
		get(t, "http://"+addr+p)
	}
	waitFileLine(t, logfile, `path=/nf-last `)
	raw, _ := os.ReadFile(logfile)
	var logged []string
	for _, m := range regexp.MustCompile(`request: method=GET path=(\S+) status=(\d+)`).FindAllStringSubmatch(string(raw), -1) {
		logged = append(logged, m[1]+" "+m[2])
	}
	if got, want := strings.Join(logged, ","), "/nf 404,/err 500,/slow 200,/big 200,/empty 200,/nf-last 404"; got != want {
		t.Fatalf("logged %s\nwant   %s", got, want)
	}
}

const ioApp = `import os
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/file"):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return environ["wsgi.file_wrapper"](open(os.path.join(os.path.dirname(__file__), "five.txt"), "rb"))
    if path == "/upload":
        open(os.path.join(os.path.dirname(__file__), "reading"), "w").close()
        try:
            environ["wsgi.input"].read()
        except OSError:
            pass
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x" * 4096 for _ in range(64)]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
`

// With disable-logging, log-sendfile still logs the requests whose body
// went out with sendfile (wsgi.file_wrapper), and log-ioerror those that
// had both a read error (the client reset mid-body) and a write error, as
// uWSGI's log_request combines them; other requests stay unlogged.
func TestDisableLoggingSendfileIOError(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "ioapp.py"), ioApp)
	writeFile(t, filepath.Join(dir, "five.txt"), "12345")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logfile := filepath.Join(dir, "app.log")
	startMaster(t, dir, "--http-socket", addr, "--module", "ioapp", "--processes", "1", "--threads", "1",
		"--python-bin", py, "--chdir", dir, "--logto", logfile, "--disable-logging", "--log-sendfile", "--log-ioerror")
	waitFileLine(t, logfile, `all workers ready`)
	get(t, "http://"+addr+"/plain")
	if _, body := get(t, "http://"+addr+"/file1"); body != "12345" {
		t.Fatalf("/file1 answered %q", body)
	}
	// The client sends part of the body and resets the connection: the
	// app's read fails, then its response cannot be written.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nabc")
	waitFor(t, "the app reading the body", func() bool {
		_, err := os.Stat(filepath.Join(dir, "reading"))
		return err == nil
	})
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	get(t, "http://"+addr+"/plain2")
	get(t, "http://"+addr+"/file-last")
	waitFileLine(t, logfile, `path=/file-last `)
	raw, _ := os.ReadFile(logfile)
	var logged []string
	for _, m := range regexp.MustCompile(`request: method=(\S+) path=(\S+)`).FindAllStringSubmatch(string(raw), -1) {
		logged = append(logged, m[1]+" "+m[2])
	}
	if got, want := strings.Join(logged, ","), "GET /file1,POST /upload,GET /file-last"; got != want {
		t.Fatalf("logged %s\nwant   %s\n%s", got, want, raw)
	}
}
