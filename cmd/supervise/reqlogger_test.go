package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const reqLoggerApp = `import sys
def application(environ, start_response):
    print("app says " + environ["PATH_INFO"], file=sys.stderr, flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
`

// req-logger = file:PATH gets the Python worker's request lines and logto
// does not (the app's own output and the master's lines stay there);
// log-req-route sends the request lines it matches to a named req-logger
// and nowhere else.
func TestReqLoggerAndLogReqRoute(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "reqapp.py"), reqLoggerApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logfile, reqfile, slowfile := filepath.Join(dir, "app.log"), filepath.Join(dir, "req.log"), filepath.Join(dir, "slow.log")
	startMaster(t, dir, "--http-socket", addr, "--module", "reqapp", "--processes", "1", "--threads", "1",
		"--python-bin", py, "--chdir", dir, "--logto", logfile,
		"--req-logger", "file:"+reqfile, "--req-logger", "slow file:"+slowfile, "--log-req-route", "slow path=/slow ")
	waitFileLine(t, logfile, `all workers ready`)
	for _, p := range []string{"/a", "/slow", "/b"} {
		get(t, "http://"+addr+p)
	}
	waitFileLine(t, reqfile, `request: method=GET path=/b `)
	waitFileLine(t, logfile, `app says /b`)
	raw := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if l := raw(logfile); strings.Contains(l, "request: ") || strings.Contains(l, "\x1e") || !strings.Contains(l, "app says /a") {
		t.Errorf("logto has request lines (or lacks the app's output):\n%s", l)
	}
	if r := raw(reqfile); strings.Count(r, "request: ") != 2 || !strings.Contains(r, "path=/a ") || strings.Contains(r, "/slow") ||
		strings.Contains(r, "\x1e") || strings.Contains(r, "app says") {
		t.Errorf("req-logger file:\n%s", r)
	}
	waitFileLine(t, slowfile, `request: method=GET path=/slow `)
	if s := raw(slowfile); strings.Count(s, "\n") != 1 {
		t.Errorf("log-req-route's logger:\n%s", s)
	}
}

// The Go worker's request lines go to req-logger too, one JSON object
// each with log-req-encoder = json, while its other lines and the
// master's stay in logto as plain text.
func TestReqLoggerGoWorkerJSON(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	logfile, reqfile := filepath.Join(dir, "app.log"), filepath.Join(dir, "req.log")
	startMaster(t, dir, "--http-socket", addr, "--processes", "1", "--logto", logfile,
		"--req-logger", "file:"+reqfile, "--log-req-encoder", "json", "--env", envHelper+"=goworker", "--", os.Args[0])
	waitFileLine(t, logfile, `all workers ready`)
	for _, p := range []string{"/pid", "/empty"} {
		get(t, "http://"+addr+p)
	}
	waitFileLine(t, reqfile, `path=/empty `)
	r, _ := os.ReadFile(reqfile)
	lines := strings.Split(strings.TrimSuffix(string(r), "\n"), "\n")
	for _, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil || !strings.Contains(fmt.Sprint(obj["@message"]), "request: method=GET path=/") {
			t.Errorf("req-logger line %q is not a JSON request line (%v)", l, err)
		}
	}
	if l, _ := os.ReadFile(logfile); len(lines) != 2 || strings.Contains(string(l), "request: ") || strings.Contains(string(l), `{"@`) {
		t.Errorf("%d request lines; logto:\n%s", len(lines), l)
	}
}
