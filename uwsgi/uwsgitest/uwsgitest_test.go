package uwsgitest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/uwsgi"
)

func TestNginxVarsGET(t *testing.T) {
	h := http.Header{}
	h.Set("Host", "example.com")
	h.Set("User-Agent", "curl/7.88.1")
	h.Set("Accept", "*/*")
	h.Add("Cookie", "a=1")
	h.Add("Cookie", "b=2")
	h.Set("X_Dropped", "nginx drops names with underscores")
	got := NginxVars("GET", "/a%20b//c/./d/../e/?x=1&y=%2F", h, 0)
	want := []uwsgi.Var{
		{Key: "QUERY_STRING", Value: "x=1&y=%2F"},
		{Key: "REQUEST_METHOD", Value: "GET"},
		{Key: "CONTENT_TYPE", Value: ""},
		{Key: "CONTENT_LENGTH", Value: ""},
		{Key: "REQUEST_URI", Value: "/a%20b//c/./d/../e/?x=1&y=%2F"},
		{Key: "PATH_INFO", Value: "/a b/c/e/"},
		{Key: "DOCUMENT_ROOT", Value: "/usr/share/nginx/html"},
		{Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"},
		{Key: "REQUEST_SCHEME", Value: "http"},
		{Key: "REMOTE_ADDR", Value: "127.0.0.1"},
		{Key: "REMOTE_PORT", Value: RemotePort},
		{Key: "SERVER_PORT", Value: "80"},
		{Key: "SERVER_NAME", Value: "localhost"},
		{Key: "HTTP_HOST", Value: "example.com"},
		{Key: "HTTP_ACCEPT", Value: "*/*"},
		{Key: "HTTP_COOKIE", Value: "a=1"},
		{Key: "HTTP_COOKIE", Value: "b=2"},
		{Key: "HTTP_USER_AGENT", Value: "curl/7.88.1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if h.Get("Content-Length") != "" {
		t.Fatal("NginxVars changed the caller's header")
	}
}

func TestNginxVarsPOST(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}}
	got := NginxVars("POST", "/api", h, 7)
	p := &uwsgi.Packet{Vars: got}
	for k, want := range map[string]string{
		"QUERY_STRING": "", "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": "7",
		"PATH_INFO": "/api", "HTTP_HOST": ServerName, "HTTP_CONTENT_TYPE": "application/json", "HTTP_CONTENT_LENGTH": "7",
	} {
		if v, ok := p.Get(k); !ok || v != want {
			t.Errorf("%s = %q, %v; want %q", k, v, ok, want)
		}
	}
	if got[13].Key != "HTTP_HOST" {
		t.Errorf("first header var %q, want HTTP_HOST", got[13].Key)
	}
	if _, err := uwsgi.Encode(got); err != nil {
		t.Fatal(err)
	}
}

func TestDocumentURI(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "/a": "/a", "/a/": "/a/", "//a///b": "/a/b", "/a/./b": "/a/b", "/a/../b": "/b",
		"/../..": "/", "/a/.": "/a/", "/a/b/..": "/a/", "/%7Euser/x%2Fy": "/~user/x/y", "/bad%zz": "/bad%zz", "a": "/a",
	} {
		if got := DocumentURI(in); got != want {
			t.Errorf("DocumentURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// serve answers one uwsgi request per connection the way a worker does:
// packet, CONTENT_LENGTH bytes of body, raw HTTP response, close.
func serve(t *testing.T, handle func(p *uwsgi.Packet, body []byte) string) net.Addr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				p, err := uwsgi.ReadPacket(c, uwsgi.DefaultBufferSize)
				if err != nil {
					fmt.Fprintf(c, "HTTP/1.0 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s", len(err.Error()), err)
					// Drain what the client sent: closing with unread
					// data would reset the connection under the answer.
					c.(*net.TCPConn).CloseWrite()
					io.Copy(io.Discard, c)
					return
				}
				cl, _ := p.Get("CONTENT_LENGTH")
				n, _ := strconv.Atoi(cl)
				body := make([]byte, n)
				if _, err := io.ReadFull(c, body); err != nil {
					return
				}
				io.WriteString(c, handle(p, body))
			}()
		}
	}()
	return ln.Addr()
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDo(t *testing.T) {
	addr := serve(t, func(p *uwsgi.Packet, body []byte) string {
		path, _ := p.Get("PATH_INFO")
		method, _ := p.Get("REQUEST_METHOD")
		proto, _ := p.Get("SERVER_PROTOCOL")
		out := method + " " + path + " " + string(body)
		if method == "HEAD" {
			return proto + " 200 OK\r\nContent-Length: 99\r\n\r\n"
		}
		// No Content-Length: the body runs to the close, as uWSGI's may.
		return proto + " 201 Created\r\nX-Vars: " + strconv.Itoa(len(p.Vars)) + "\r\n\r\n" + out
	})

	body := []byte(`{"a":1}`)
	vars := NginxVars("POST", "/items?x=1", http.Header{"Content-Type": {"application/json"}}, len(body))
	resp, err := Do(dial(t, addr), vars, body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 201 || resp.Proto != "HTTP/1.1" || string(got) != `POST /items {"a":1}` ||
		resp.Header.Get("X-Vars") != strconv.Itoa(len(vars)) {
		t.Fatalf("%d %s %q %v", resp.StatusCode, resp.Proto, got, resp.Header)
	}

	resp, err = Do(dial(t, addr), NginxVars("HEAD", "/", nil, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(resp.Body); err != nil || len(got) != 0 || resp.ContentLength != 99 {
		t.Fatalf("HEAD: %q %v %d", got, err, resp.ContentLength)
	}
}

func TestDoServerError(t *testing.T) {
	addr := serve(t, func(*uwsgi.Packet, []byte) string { return "" })
	// A vars block over buffer-size: the server answers 400 unread.
	vars := []uwsgi.Var{{Key: "HTTP_BIG", Value: string(bytes.Repeat([]byte("x"), 5000))}}
	resp, err := Do(dial(t, addr), vars, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !bytes.Contains(msg, []byte("invalid request block size: 5012 (max 4096)")) {
		t.Fatalf("%d %q", resp.StatusCode, msg)
	}
	if _, err := Do(dial(t, addr), []uwsgi.Var{{Key: "", Value: "x"}}, nil); err == nil {
		t.Fatal("empty key encoded")
	}
}
