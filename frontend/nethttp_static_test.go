package frontend

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawGet sends target exactly as written (no client-side cleaning).
func rawGet(t *testing.T, base, target string, extra ...string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", target, strings.Join(extra, ""))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStaticMap(t *testing.T) {
	dir := tempDir(t)
	root := filepath.Join(dir, "public")
	outside := filepath.Join(dir, "outside")
	for _, d := range []string{root, filepath.Join(root, "sub"), outside} {
		os.Mkdir(d, 0o755)
	}
	os.WriteFile(filepath.Join(root, "hello.txt"), []byte("0123456789"), 0o644)
	os.WriteFile(filepath.Join(root, "sub", "in.txt"), []byte("inside"), 0o644)
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("SECRET"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(root, "escape.txt"))
	os.Symlink("sub/in.txt", filepath.Join(root, "alias.txt"))
	w := startFakeWorker(t, dir, "w.sock", answer("from the app"))
	base, logs := frontFor(t, Config{Backends: []string{w.path}, StaticMaps: []string{"/static=" + root}})

	if code, body := rawGet(t, base, "/static/hello.txt"); code != 200 || body != "0123456789" {
		t.Fatalf("file: %d %q", code, body)
	}
	if code, body := rawGet(t, base, "/static/hello.txt", "Range: bytes=2-5\r\n"); code != 206 || body != "2345" {
		t.Fatalf("range: %d %q", code, body)
	}
	later := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if code, _ := rawGet(t, base, "/static/hello.txt", "If-Modified-Since: "+later+"\r\n"); code != 304 {
		t.Fatalf("If-Modified-Since: %d", code)
	}
	if code, body := rawGet(t, base, "/static/alias.txt"); code != 200 || body != "inside" {
		t.Fatalf("symlink inside the root: %d %q", code, body)
	}
	// Not a file under the map: the application answers, as with uWSGI.
	for _, p := range []string{"/static/nope.txt", "/static/sub", "/static/", "/staticx/hello.txt", "/other"} {
		if code, body := rawGet(t, base, p); code != 200 || body != "from the app" {
			t.Errorf("%s: %d %q, want the app", p, code, body)
		}
	}
	// Traversal: the decoded, normalised path never leaves the map; what
	// is left goes to the app, never the file.
	for _, p := range []string{"/static/../outside/secret.txt", "/static/%2e%2e/outside/secret.txt",
		"/static/..%2foutside%2fsecret.txt", "/static/%2E%2E%2F%2E%2E%2Foutside/secret.txt", "/static/sub/../../outside/secret.txt"} {
		if code, body := rawGet(t, base, p); strings.Contains(body, "SECRET") {
			t.Errorf("%s: %d %q: escaped the static root", p, code, body)
		}
	}
	if code, body := rawGet(t, base, "/static/escape.txt"); code != 403 || strings.Contains(body, "SECRET") {
		t.Fatalf("symlink out of the root: %d %q", code, body)
	}
	if !strings.Contains(logs.String(), "static file outside its static-map directory refused") {
		t.Errorf("no log line for the refused symlink: %s", logs)
	}

	// static-safe lets that symlink through.
	base, _ = frontFor(t, Config{Backends: []string{w.path}, StaticMaps: []string{"/static=" + root}, StaticSafe: []string{outside}})
	if code, body := rawGet(t, base, "/static/escape.txt"); code != 200 || body != "SECRET" {
		t.Fatalf("static-safe: %d %q", code, body)
	}
}
