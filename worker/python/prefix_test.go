package python_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// echoApp answers which app ran and the SCRIPT_NAME and PATH_INFO it saw.
const echoApp = `
def app(name):
    def application(environ, start_response):
        body = ("%s %r %r" % (name, environ.get("SCRIPT_NAME"), environ.get("PATH_INFO"))).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return application
application = app("main")
sub = app("sub")
`

// uwsgiVars sends one request with these vars and modifier1.
func (w *pyWorker) uwsgiVars(t *testing.T, modifier1 uint8, kv ...string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("unix", w.uwsgi)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	vars := []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Key: "SERVER_NAME", Value: "test"}, {Key: "SERVER_PORT", Value: "80"}, {Key: "QUERY_STRING", Value: ""}}
	for i := 0; i+1 < len(kv); i += 2 {
		vars = append(vars, uwsgi.Var{Key: kv[i], Value: kv[i+1]})
	}
	pkt, err := uwsgi.AppendPacket(nil, modifier1, 0, vars)
	if err != nil {
		t.Fatal(err)
	}
	conn.Write(pkt)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("modifier1 %d %v: %v", modifier1, kv, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMountsChooseTheAppByLongestPrefix(t *testing.T) {
	w := startWorker(t, echoApp, nil, "SUPERVISE_PY_MODULE=", "SUPERVISE_PY_MANAGE_SCRIPT_NAME=1",
		"SUPERVISE_PY_MOUNTS=/app=testapp.py\n/app/sub=testapp:sub")
	for _, c := range []struct{ path, script, want string }{
		{"/app/x", "", "main '/app' '/x'"},
		{"/app", "", "main '/app' ''"},
		{"/appx", "", "main '' '/appx'"}, // not a /-bounded prefix: the first app, as uWSGI
		{"/app/sub/z", "", "sub '/app/sub' '/z'"},
		{"/app/sub/", "", "sub '/app/sub' '/'"},
		{"/zzz", "", "main '' '/zzz'"},
		{"/z", "/app/sub", "sub '/app/sub' '/z'"}, // nginx's SCRIPT_NAME picks the app
		{"/app/sub/z", "/app", "sub '/app/sub' '/z'"},
	} {
		kv := []string{"PATH_INFO", c.path, "REQUEST_URI", c.path}
		if c.script != "" {
			kv = append(kv, "SCRIPT_NAME", c.script)
		}
		if _, body := w.uwsgiVars(t, 0, kv...); body != c.want {
			t.Errorf("%s (SCRIPT_NAME %q): %q, want %q", c.path, c.script, body, c.want)
		}
	}
	resp, body := w.httpGet(t, "/app/sub/q")
	if resp.StatusCode != 200 || body != "sub '/app/sub' '/q'" {
		t.Errorf("http-socket /app/sub/q: %d %q", resp.StatusCode, body)
	}
}

func TestScriptNameFromTheWebServerIsKept(t *testing.T) {
	w := startWorker(t, echoApp, nil)
	for _, mod := range []uint8{0, 30} { // uwsgi_modifier1 30 is served as uWSGI 2.0.21 serves it
		_, body := w.uwsgiVars(t, mod, "PATH_INFO", "/pre/x", "REQUEST_URI", "/pre/x", "SCRIPT_NAME", "/pre")
		if body != "main '/pre' '/pre/x'" {
			t.Errorf("modifier1 %d: %q", mod, body)
		}
	}
	if _, body := w.uwsgiVars(t, 0, "PATH_INFO", "/x", "REQUEST_URI", "/x"); body != "main '' '/x'" {
		t.Errorf("no SCRIPT_NAME sent: %q (PEP 3333 wants it present)", body)
	}
}

var plainTransport = &http.Transport{DisableCompression: true, DisableKeepAlives: true}

func (w *pyWorker) httpGet(t *testing.T, uri string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+w.http+uri, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := plainTransport.RoundTrip(req) // no Accept-Encoding unless the test sets one

	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestStaticFilesServedBeforeTheApp(t *testing.T) {
	root := t.TempDir()
	static := filepath.Join(root, "static")
	os.MkdirAll(filepath.Join(static, "css", "sub"), 0o755)
	os.WriteFile(filepath.Join(static, "css", "site.css"), []byte("body { color: red }\n"), 0o644)
	os.WriteFile(filepath.Join(static, "css", "sub", "index.html"), []byte("<p>index</p>"), 0o644)
	os.WriteFile(filepath.Join(root, "secret.txt"), []byte("secret"), 0o644)
	os.Symlink(filepath.Join(root, "secret.txt"), filepath.Join(static, "leak.txt"))
	docroot := filepath.Join(root, "docroot")
	os.MkdirAll(filepath.Join(docroot, "m2"), 0o755)
	os.WriteFile(filepath.Join(docroot, "m2", "two.txt"), []byte("map2"), 0o644)
	os.WriteFile(filepath.Join(docroot, "robots.txt"), []byte("User-agent: *"), 0o644)
	os.WriteFile(filepath.Join(static, "css", "site.css.gz"), []byte("gzipped"), 0o644)
	os.WriteFile(filepath.Join(static, "notes.txt"), []byte("notes"), 0o644)
	os.WriteFile(filepath.Join(static, "hidden.py"), []byte("code"), 0o644)
	w := startWorker(t, echoApp, nil, "SUPERVISE_STATIC=static-map /static="+static+"\nstatic-map2 /m2="+docroot+
		"\ncheck-static "+docroot+"\nstatic-index index.html\nstatic-gzip-ext .css\nstatic-skip-ext .py"+
		"\nstatic-expires-type text/plain=60\nstatic-expires-mtime /css/.*\\.css$ 3600")

	resp, body := w.httpGet(t, "/static/css/site.css")
	if resp.StatusCode != 200 || body != "body { color: red }\n" || resp.Header.Get("Content-Type") != "text/css" {
		t.Fatalf("static-map: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	lm := resp.Header.Get("Last-Modified")
	if mtime, err := http.ParseTime(lm); err != nil || resp.Header.Get("Expires") != mtime.Add(time.Hour).Format(http.TimeFormat) {
		t.Errorf("static-expires-mtime: Expires %q with Last-Modified %q", resp.Header.Get("Expires"), lm)
	}
	if resp, _ := w.httpGet(t, "/static/notes.txt"); resp.Header.Get("Expires") == "" {
		t.Errorf("static-expires-type: no Expires on a text/plain file")
	}
	resp, body = w.httpGet(t, "/static/css/site.css", "Accept-Encoding", "gzip")
	if body != "gzipped" || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("static-gzip-ext: %q %v", body, resp.Header)
	}
	if _, body := w.httpGet(t, "/static/hidden.py"); body != "main '' '/static/hidden.py'" {
		t.Errorf("static-skip-ext: %q, want the app", body)
	}
	if resp, _ := w.httpGet(t, "/static/css/site.css", "If-Modified-Since", lm); resp.StatusCode != 304 {
		t.Errorf("If-Modified-Since: %d, want 304", resp.StatusCode)
	}
	resp, body = w.httpGet(t, "/static/css/site.css", "Range", "bytes=5-9")
	if resp.StatusCode != 206 || body != "{ col" || resp.Header.Get("Content-Range") != "bytes 5-9/20" {
		t.Errorf("Range: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := w.httpGet(t, "/static/css/site.css", "Range", "bytes=50-"); resp.StatusCode != 416 {
		t.Errorf("unsatisfiable Range: %d", resp.StatusCode)
	}
	if _, body := w.httpGet(t, "/static/css/sub/"); body != "<p>index</p>" {
		t.Errorf("static-index: %q", body)
	}
	if _, body := w.httpGet(t, "/m2/two.txt"); body != "map2" {
		t.Errorf("static-map2: %q", body)
	}
	if _, body := w.httpGet(t, "/robots.txt"); body != "User-agent: *" {
		t.Errorf("check-static: %q", body)
	}
	if _, body := w.httpGet(t, "/static/missing.css"); body != "main '' '/static/missing.css'" {
		t.Errorf("a missing file goes to the app: %q", body)
	}
	for _, uri := range []string{"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/leak.txt"} {
		resp, body := w.httpGet(t, uri)
		if resp.StatusCode != 403 || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %q, want 403", uri, resp.StatusCode, body)
		}
	}
	// Behind nginx (uwsgi_pass) the worker serves them too, with sendfile.
	resp, body = w.uwsgiVars(t, 0, "PATH_INFO", "/static/css/site.css", "REQUEST_URI", "/static/css/site.css")
	if resp.StatusCode != 200 || body != "body { color: red }\n" {
		t.Errorf("uwsgi: %d %q", resp.StatusCode, body)
	}
	resp, body = w.uwsgiVars(t, 0, "PATH_INFO", "/static/css/site.css", "REQUEST_URI", "/static/css/site.css", "HTTP_RANGE", "bytes=-3")
	if resp.StatusCode != 206 || body != "d }\n"[1:] {
		t.Errorf("uwsgi Range: %d %q", resp.StatusCode, body)
	}
}
