package worker

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/uwsgi"
)

func nginxPacket(extra ...uwsgi.Var) *uwsgi.Packet {
	vars := []uwsgi.Var{{Key: "QUERY_STRING", Value: "a=1&b=2"}, {Key: "REQUEST_METHOD", Value: "POST"},
		{Key: "CONTENT_TYPE", Value: "text/plain"}, {Key: "CONTENT_LENGTH", Value: "5"},
		{Key: "REQUEST_URI", Value: "/user/bob?a=1&b=2"}, {Key: "PATH_INFO", Value: "/user/bob"},
		{Key: "DOCUMENT_ROOT", Value: "/usr/share/nginx/html"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Key: "REQUEST_SCHEME", Value: "https"}, {Key: "HTTPS", Value: "on"}, {Key: "REMOTE_ADDR", Value: "10.1.2.3"},
		{Key: "REMOTE_PORT", Value: "51234"}, {Key: "SERVER_PORT", Value: "443"}, {Key: "SERVER_NAME", Value: "example.com"},
		{Key: "HTTP_HOST", Value: "example.com"}, {Key: "HTTP_USER_AGENT", Value: "curl/7.88.1"},
		{Key: "HTTP_X_FORWARDED_FOR", Value: "1.1.1.1"}, {Key: "HTTP_CONTENT_TYPE", Value: "text/plain"},
		{Key: "HTTP_CONTENT_LENGTH", Value: "5"}}
	return &uwsgi.Packet{Vars: append(vars, extra...)}
}

func TestNewRequestFromNginxVars(t *testing.T) {
	r, err := newRequest(nginxPacket(), strings.NewReader("hello and more"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	switch {
	case r.Method != "POST" || r.URL.Path != "/user/bob" || r.URL.RawQuery != "a=1&b=2" || r.RequestURI != "/user/bob?a=1&b=2":
		t.Errorf("request line: %s %v %s", r.Method, r.URL, r.RequestURI)
	case r.ProtoMajor != 1 || r.ProtoMinor != 1:
		t.Errorf("proto %s", r.Proto)
	case r.Host != "example.com" || r.RemoteAddr != "10.1.2.3:51234" || r.TLS == nil:
		t.Errorf("host %q remote %q tls %v", r.Host, r.RemoteAddr, r.TLS != nil)
	case r.Header.Get("User-Agent") != "curl/7.88.1" || r.Header.Get("X-Forwarded-For") != "1.1.1.1" || r.Header.Get("Content-Type") != "text/plain":
		t.Errorf("headers %v", r.Header)
	case len(r.Header.Values("Content-Type")) != 1 || r.Header.Get("Content-Length") != "":
		t.Errorf("CONTENT_* repeated as headers: %v", r.Header)
	case r.ContentLength != 5 || string(body) != "hello":
		t.Errorf("body %d %q", r.ContentLength, body)
	}
}

func TestNewRequestRejectsBadVars(t *testing.T) {
	for name, p := range map[string]*uwsgi.Packet{
		"no method":       {Vars: []uwsgi.Var{{Key: "REQUEST_URI", Value: "/"}}},
		"bad length":      nginxPacket(uwsgi.Var{Key: "CONTENT_LENGTH", Value: "-3"}),
		"bad protocol":    nginxPacket(uwsgi.Var{Key: "SERVER_PROTOCOL", Value: "SPDY"}),
		"bad request uri": {Vars: []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"}, {Key: "REQUEST_URI", Value: "no-slash"}}},
	} {
		if _, err := newRequest(p, strings.NewReader("")); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestResponseIsRawHTTP(t *testing.T) {
	var out bytes.Buffer
	rw := &response{w: bufio.NewWriter(&out), proto: "HTTP/1.1", header: http.Header{}}
	rw.Header().Set("X-App", "1")
	rw.Write([]byte("<html>hi</html>"))
	rw.Flush()
	rw.Write([]byte(" more"))
	if err := rw.finish(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(&out), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("X-App") != "1" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		string(body) != "<html>hi</html> more" || rw.written != int64(len(body)) {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, body)
	}
}

func TestEmptyAndHeadResponses(t *testing.T) {
	var out bytes.Buffer
	rw := &response{w: bufio.NewWriter(&out), proto: "HTTP/1.0", header: http.Header{}}
	rw.finish()
	if !strings.HasPrefix(out.String(), "HTTP/1.0 200 OK\r\n") || !strings.Contains(out.String(), "Content-Length: 0") {
		t.Fatalf("empty: %q", out.String())
	}
	out.Reset()
	rw = &response{w: bufio.NewWriter(&out), proto: "HTTP/1.1", head: true, header: http.Header{}}
	rw.WriteHeader(404)
	rw.Write([]byte("not sent"))
	rw.finish()
	if strings.Contains(out.String(), "not sent") || !strings.HasPrefix(out.String(), "HTTP/1.1 404 Not Found") {
		t.Fatalf("head: %q", out.String())
	}
}

func FuzzRequestDecoding(f *testing.F) {
	seed, _ := uwsgi.AppendPacket(nil, 0, 0, nginxPacket().Vars)
	f.Add(append(seed, "hello"...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		p, err := uwsgi.ReadPacket(br, uwsgi.MaxBufferSize)
		if err != nil {
			return
		}
		r, err := newRequest(p, br)
		if err != nil {
			return
		}
		if r.URL == nil || r.Method == "" || r.Body == nil {
			t.Fatalf("accepted an incomplete request: %+v", r)
		}
		io.Copy(io.Discard, r.Body)
	})
}

func TestResponseHeaderThatCouldSplitIs500(t *testing.T) {
	for name, set := range map[string]func(http.Header){
		"CRLF in value": func(h http.Header) { h.Set("X-Echo", "a\r\nSet-Cookie: stolen=1") },
		"LF in value":   func(h http.Header) { h.Set("X-Echo", "a\nb") },
		"NUL in value":  func(h http.Header) { h.Set("X-Echo", "a\x00b") },
		"CRLF in name":  func(h http.Header) { h["X-A\r\nSet-Cookie"] = []string{"1"} },
		"space in name": func(h http.Header) { h["X A"] = []string{"1"} },
	} {
		var out bytes.Buffer
		rw := &response{w: bufio.NewWriter(&out), proto: "HTTP/1.1", header: http.Header{}}
		set(rw.Header())
		rw.Write([]byte("body"))
		rw.finish()
		if rw.refused == nil || !strings.HasPrefix(out.String(), "HTTP/1.1 500 ") || strings.Contains(out.String(), "stolen") || strings.Contains(out.String(), "body") {
			t.Errorf("%s: refused=%v, sent %q", name, rw.refused, out.String())
		}
	}
	var out bytes.Buffer
	rw := &response{w: bufio.NewWriter(&out), proto: "HTTP/1.1", header: http.Header{}}
	rw.Header().Set("X-Tab", "a\tb")
	rw.WriteHeader(204)
	rw.finish()
	if rw.refused != nil || !strings.HasPrefix(out.String(), "HTTP/1.1 204 ") {
		t.Errorf("a tab in a value is fine: refused=%v, sent %q", rw.refused, out.String())
	}
}
