package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"
)

// headersApp answers with how many X-H-* headers it got.
const headersApp = `
def application(environ, start_response):
    n = sum(1 for k in environ if k.startswith("HTTP_X_H_"))
    body = str(n).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// startRealUwsgi runs uWSGI 2.0 (Debian's uwsgi-core with the python3
// plugin) on a unix socket with app.py from dir, for side-by-side tests.
func startRealUwsgi(t *testing.T, dir, sock string, args ...string) {
	t.Helper()
	bin := requireTool(t, "uwsgi", "--plugins", "python3", "--version")
	u := startUWSGI(t, bin, dir, "", append([]string{"--plugins", "python3", "--socket", sock, "--chdir", dir,
		"--module", "app", "--processes", "1", "--disable-logging"}, args...)...)
	u.waitUnix(t, sock)
}

func getWithHeaders(t *testing.T, url string, n int) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i < n; i++ {
		req.Header.Set(fmt.Sprintf("X-H-%03d", i), "v")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET with %d headers: %v", n, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Through nginx (include uwsgi_params: about 15 vars of its own plus one
// per header), a request with 60 or 110 headers is served as uWSGI 2.0
// serves it, and one past uWSGI's 2 x max-vars vars gets nginx's 502 from
// both; max-vars moves the limit the same way in both.
func TestManyHeadersThroughNginxLikeUwsgi(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	for _, tc := range []struct {
		maxVars string
		cases   map[int]int // headers -> status
	}{
		{"", map[int]int{60: 200, 110: 200, 140: 502}},
		{"100", map[int]int{140: 200, 190: 502}},
	} {
		var extra []string
		if tc.maxVars != "" {
			extra = []string{"--max-vars", tc.maxVars}
		}
		ours := shortTempDir(t)
		writeFile(t, filepath.Join(ours, "app.py"), headersApp)
		m := startMaster(t, ours, append([]string{"--socket", filepath.Join(ours, "s.sock"), "--module", "app",
			"--python-bin", py, "--chdir", ours}, extra...)...)
		m.waitLog(`all workers ready`, 1)
		oursURL := startNginx(t, ours, "unix:"+filepath.Join(ours, "s.sock"))

		theirs := shortTempDir(t)
		writeFile(t, filepath.Join(theirs, "app.py"), headersApp)
		startRealUwsgi(t, theirs, filepath.Join(theirs, "u.sock"), extra...)
		theirsURL := startNginx(t, theirs, "unix:"+filepath.Join(theirs, "u.sock"))

		for n, want := range tc.cases {
			code, body := getWithHeaders(t, oursURL+"/", n)
			ucode, ubody := getWithHeaders(t, theirsURL+"/", n)
			if code != want || ucode != want {
				t.Errorf("max-vars %q, %d headers: supervise %d, uWSGI %d, want %d", tc.maxVars, n, code, ucode, want)
			}
			if want == 200 && (body != fmt.Sprint(n) || ubody != body) {
				t.Errorf("max-vars %q, %d headers: the app saw %q (uWSGI's %q)", tc.maxVars, n, body, ubody)
			}
		}
		m.signal(syscall.SIGTERM)
		m.waitExit()
	}
}
