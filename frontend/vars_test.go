package frontend

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/uwsgi"
	"github.com/supervise-go/supervise/uwsgi/uwsgitest"
)

func readRequest(t testing.TB, raw string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var testConn = &connInfo{RemoteAddr: "192.0.2.7", RemotePort: "40100", ServerAddr: "127.0.0.1", ServerPort: "8080"}

func varsMap(vars []uwsgi.Var) map[string]string {
	m := map[string]string{}
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}

func TestVarsAsNginxSendsThem(t *testing.T) {
	r := readRequest(t, "GET /a%20b//c/./d/../e/?x=1&y=%2F HTTP/1.1\r\nHost: Example.com:8080\r\n"+
		"User-Agent: curl/8\r\nCookie: a=1\r\nCookie: b=2\r\nAccept: */*\r\nX_Spoof: 1\r\nX-Custom-Thing: yes\r\n\r\n")
	got := appendVars(nil, r, testConn, -1, "/srv/www")
	want := []uwsgi.Var{
		{Key: "QUERY_STRING", Value: "x=1&y=%2F"},
		{Key: "REQUEST_METHOD", Value: "GET"},
		{Key: "CONTENT_TYPE", Value: ""},
		{Key: "CONTENT_LENGTH", Value: ""},
		{Key: "REQUEST_URI", Value: "/a%20b//c/./d/../e/?x=1&y=%2F"},
		{Key: "PATH_INFO", Value: "/a b/c/e/"},
		{Key: "DOCUMENT_ROOT", Value: "/srv/www"},
		{Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Key: "REQUEST_SCHEME", Value: "http"},
		{Key: "REMOTE_ADDR", Value: "192.0.2.7"},
		{Key: "REMOTE_PORT", Value: "40100"},
		{Key: "SERVER_PORT", Value: "8080"},
		{Key: "SERVER_NAME", Value: "example.com"},
		{Key: "HTTP_HOST", Value: "Example.com:8080"},
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("var %d = %q, want %q", i, got[i], w)
		}
	}
	m := varsMap(got)
	for k, v := range map[string]string{"HTTP_USER_AGENT": "curl/8", "HTTP_COOKIE": "a=1; b=2", "HTTP_ACCEPT": "*/*",
		"HTTP_X_CUSTOM_THING": "yes"} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	for _, k := range []string{"HTTP_X_SPOOF", "HTTPS", "HTTP_CONTENT_LENGTH"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s sent", k)
		}
	}
	if len(got) != len(want)+4 {
		t.Errorf("%d vars: %q", len(got), got)
	}
}

func TestVarsBodiesAndTLS(t *testing.T) {
	r := readRequest(t, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
	c := *testConn
	c.HTTPS = true
	m := varsMap(appendVars(nil, r, &c, 7, ""))
	for k, v := range map[string]string{"CONTENT_LENGTH": "7", "HTTP_CONTENT_LENGTH": "7", "CONTENT_TYPE": "application/json",
		"HTTP_CONTENT_TYPE": "application/json", "HTTPS": "on", "REQUEST_SCHEME": "https"} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	// A chunked body: its buffered length is sent, Transfer-Encoding is not.
	r = readRequest(t, "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	m = varsMap(appendVars(nil, r, testConn, 3, ""))
	if m["CONTENT_LENGTH"] != "3" || m["HTTP_CONTENT_LENGTH"] != "3" || m["HTTP_TRANSFER_ENCODING"] != "" {
		t.Errorf("chunked: %q", m)
	}
	// An empty body announced as such.
	r = readRequest(t, "POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
	if m = varsMap(appendVars(nil, r, testConn, 0, "")); m["CONTENT_LENGTH"] != "0" {
		t.Errorf("empty body: CONTENT_LENGTH %q", m["CONTENT_LENGTH"])
	}
	// HTTP/1.0 without Host: the server's address stands in.
	r = readRequest(t, "GET /x HTTP/1.0\r\n\r\n")
	if m = varsMap(appendVars(nil, r, testConn, -1, "")); m["HTTP_HOST"] != "127.0.0.1" || m["SERVER_NAME"] != "127.0.0.1" || m["SERVER_PROTOCOL"] != "HTTP/1.0" {
		t.Errorf("no Host: %q", m)
	}
	// Absolute-form target: REQUEST_URI is the path, as nginx's $request_uri.
	r = readRequest(t, "GET http://other.example/p?q=1 HTTP/1.1\r\nHost: h\r\n\r\n")
	if m = varsMap(appendVars(nil, r, testConn, -1, "")); m["REQUEST_URI"] != "/p?q=1" || m["PATH_INFO"] != "/p" {
		t.Errorf("absolute form: %q", m)
	}
}

func TestDocumentURIMatchesNginx(t *testing.T) {
	for _, raw := range []string{"/", "/a", "/a/", "//a///b", "/a/./b", "/a/../b", "/../..", "/a/.", "/a/b/..",
		"/%7Euser/x%2Fy", "/a%2F..%2F..%2Fetc", "/%2e%2e/%2e%2e/etc/passwd", "/.hidden/..x/...", "/a/..b/c"} {
		u, err := url.ParseRequestURI(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := documentURI(u.Path), uwsgitest.DocumentURI(raw); got != want {
			t.Errorf("documentURI(%q) = %q, want %q", raw, got, want)
		}
	}
}

// FuzzVars feeds raw HTTP requests through net/http's parser and checks
// what the translation promises for any request net/http accepts.
func FuzzVars(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("GET /a/../../b%2F..%2fc?q=%zz HTTP/1.1\r\nHost: x\r\nX_A: 1\r\nX-A: 2\r\nx-a: 3\r\n\r\n"))
	f.Add([]byte("POST http://h:1/p HTTP/1.1\r\nHost: [::1]:80\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(raw))))
		if err != nil {
			return
		}
		vars := appendVars(nil, r, testConn, -1, "")
		seen := map[string]bool{}
		for _, v := range vars {
			if seen[v.Key] {
				t.Fatalf("%s sent twice", v.Key)
			}
			seen[v.Key] = true
			if strings.HasPrefix(v.Key, "HTTP_") && strings.ContainsAny(v.Key, "abcdefghijklmnopqrstuvwxyz-") {
				t.Fatalf("key %q not upper snake case", v.Key)
			}
		}
		m := varsMap(vars)
		p := m["PATH_INFO"]
		if !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, "/../") ||
			strings.Contains(p, "/./") || strings.HasSuffix(p, "/..") || strings.HasSuffix(p, "/.") {
			t.Fatalf("PATH_INFO %q not normalised (path %q)", p, r.URL.Path)
		}
		if raw := r.URL.EscapedPath(); strings.HasPrefix(r.RequestURI, "/") {
			if want := uwsgitest.DocumentURI(raw); p != want && !strings.Contains(raw, "%25") {
				t.Fatalf("PATH_INFO %q, nginx's $document_uri %q", p, want)
			}
		}
		if m["REQUEST_METHOD"] != r.Method || m["QUERY_STRING"] != r.URL.RawQuery {
			t.Fatalf("method/query: %q", m)
		}
		if _, err := uwsgi.Encode(vars); err != nil && !strings.Contains(err.Error(), "too large") {
			t.Fatalf("encode: %v", err)
		}
	})
}
