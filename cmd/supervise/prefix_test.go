package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// prefixEcho answers which app ran and the SCRIPT_NAME and PATH_INFO it
// saw (SCRIPT_NAME absent reads as "": uWSGI leaves it out, PEP 3333 and
// supervise give "").
const prefixEcho = `import os
NAME = os.path.basename(__file__)
def application(environ, start_response):
    body = ("%s %r %r" % (NAME, environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO"))).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
`

// TestPrefixesSideBySideWithUWSGI runs one ini (mount, manage-script-name,
// static-map) behind one nginx (plain, uwsgi_param SCRIPT_NAME, and
// uwsgi_modifier1 30 locations), first with supervise, then with uwsgi
// 2.0.21, and wants the same answers.
func TestPrefixesSideBySideWithUWSGI(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	uwsgiBin := requireTool(t, "uwsgi", "--plugins", "python3", "--version")
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "app.sock")
	writeFile(t, filepath.Join(dir, "echo.py"), prefixEcho)
	writeFile(t, filepath.Join(dir, "other.py"), prefixEcho)
	os.MkdirAll(filepath.Join(dir, "static", "css"), 0o755)
	writeFile(t, filepath.Join(dir, "static", "css", "site.css"), "body { color: red }\n")
	writeFile(t, filepath.Join(dir, "static", "css", "site.css.gz"), "pretend gzip")
	os.MkdirAll(filepath.Join(dir, "static", "docs"), 0o755)
	writeFile(t, filepath.Join(dir, "static", "docs", "index.html"), "<p>docs</p>")
	os.MkdirAll(filepath.Join(dir, "public"), 0o755)
	writeFile(t, filepath.Join(dir, "public", "robots.txt"), "User-agent: *\n")
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf(`[uwsgi]
plugins = python3
socket = %[1]s
chdir = %[2]s
mount = /app=echo.py
mount = /app/sub=other.py
manage-script-name = true
static-map = /static=%[3]s/static
static-index = index.html
check-static = %[3]s/public
static-gzip-all = true
static-expires = \.css$ 3600
`, sock, dir, dir))
	up := "uwsgi_pass unix:" + sock + "; include /etc/nginx/uwsgi_params;"
	base := startNginxLocations(t, dir, fmt.Sprintf(`
        location /pre/ { %[1]s uwsgi_param SCRIPT_NAME /pre; }
        location /old/ { %[1]s uwsgi_param SCRIPT_NAME /old; uwsgi_modifier1 30; }
        location /named/ { %[1]s uwsgi_param SCRIPT_NAME /app/sub; }
        location / { %[1]s }`, up))
	paths := []string{"/app/x", "/app", "/appx", "/app/sub/z", "/app/sub/", "/zzz", "/pre/x", "/old/y", "/named/q",
		"/static/css/site.css", "/static/missing.css", "/static/docs/", "/static/docs", "/robots.txt", "gzip /static/css/site.css"}
	answers := func() []string {
		var out []string
		for _, p := range paths {
			req, _ := http.NewRequest("GET", base+strings.TrimPrefix(p, "gzip "), nil)
			if strings.HasPrefix(p, "gzip ") {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			out = append(out, fmt.Sprintf("%s -> %d %s (Content-Type %s, Content-Encoding %q, Expires set %v)", p, resp.StatusCode,
				body, resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"), resp.Header.Get("Expires") != ""))
		}
		return out
	}
	waitServed := func() {
		deadline := time.Now().Add(20 * time.Second)
		for {
			if code, _ := get(t, base+"/app/x"); code == 200 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("nothing answered behind nginx")
			}
			time.Sleep(10 * time.Millisecond) // uwsgi gives no readiness signal but its socket
		}
	}

	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready`, 1)
	ours := answers()
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("supervise exited %d", code)
	}
	os.Remove(sock)

	cmd := exec.Command(uwsgiBin, "--ini", ini)
	cmd.Dir = dir
	logf, _ := os.Create(filepath.Join(dir, "uwsgi.log"))
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitServed()
	theirs := answers()
	for i := range paths {
		if ours[i] != theirs[i] {
			t.Errorf("supervise: %s\n    uwsgi: %s", ours[i], theirs[i])
		}
	}
	if !strings.Contains(ours[0], "echo.py '/app' '/x'") || !strings.Contains(ours[9], "color: red") {
		t.Errorf("unexpected answers: %q", ours)
	}
	if t.Failed() {
		raw, _ := os.ReadFile(filepath.Join(dir, "uwsgi.log"))
		t.Logf("uwsgi log:\n%s", raw)
	}
}
