package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// geventConnApp: /big answers 8 MiB (more than a unix socket's buffers),
// /echo the length of the body it read, anything else "small".
const geventConnApp = `def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/big":
        body = b"x" * (8 << 20)
    elif path == "/echo":
        body = str(len(environ["wsgi.input"].read())).encode()
    else:
        body = b"small"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// uwsgiRequest writes a uwsgi request for uri with an optional body
// length (CONTENT_LENGTH) on conn; the body is the caller's to send.
func uwsgiRequest(t *testing.T, conn net.Conn, method, uri string, bodyLen int) {
	t.Helper()
	vars := []uwsgi.Var{{Key: "REQUEST_METHOD", Value: method}, {Key: "REQUEST_URI", Value: uri},
		{Key: "PATH_INFO", Value: uri}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}, {Key: "SERVER_NAME", Value: "t"},
		{Key: "SERVER_PORT", Value: "80"}, {Key: "REMOTE_ADDR", Value: "127.0.0.1"}}
	if bodyLen > 0 {
		vars = append(vars, uwsgi.Var{Key: "CONTENT_LENGTH", Value: strconv.Itoa(bodyLen)})
	}
	pkt, _ := uwsgi.AppendPacket(nil, 0, 0, vars)
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
}

// readAnswer reads one response from conn within 20 s.
func readAnswer(t *testing.T, conn net.Conn) (int, string) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func dialUnix(t *testing.T, sock string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// The gevent engine serves uwsgi connections on their bare non-blocking
// fds: a response the client does not take, a body that has not arrived
// and a client that sends nothing each wait in the hub, while the one
// worker process answers other requests; the waits end with the data
// (or with socket-timeout), and request lines reach the log.
func TestGeventUwsgiConnectionsWaitCooperatively(t *testing.T) {
	py := requireTool(t, "/usr/bin/python3", "-c", "import gevent")
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "connapp.py"), geventConnApp)
	sock := filepath.Join(dir, "app.sock")
	m := startMaster(t, dir, "--socket", sock, "--module", "connapp", "--processes", "1", "--gevent", "10",
		"--socket-timeout", "2", "--python-bin", py, "--chdir", dir)
	m.waitLog(`all workers ready`, 1)
	small := func(what string) {
		t.Helper()
		c := dialUnix(t, sock)
		uwsgiRequest(t, c, "GET", "/small", 0)
		if code, body := readAnswer(t, c); code != 200 || body != "small" {
			t.Fatalf("%s: %d %q", what, code, body)
		}
	}

	// 8 MiB nobody reads yet: the worker's write waits for room (less
	// than socket-timeout).
	big := dialUnix(t, sock)
	uwsgiRequest(t, big, "GET", "/big", 0)
	small("while a response waits for the client to read")
	if code, body := readAnswer(t, big); code != 200 || len(body) != 8<<20 {
		t.Fatalf("big: %d, %d bytes; want 200, %d", code, len(body), 8<<20)
	}

	// Half a body: the app's read waits for the rest.
	const bodyLen = 1 << 20
	echo := dialUnix(t, sock)
	uwsgiRequest(t, echo, "POST", "/echo", bodyLen)
	if _, err := echo.Write(make([]byte, bodyLen/2)); err != nil {
		t.Fatal(err)
	}
	small("while a request body is half sent")
	if _, err := echo.Write(make([]byte, bodyLen-bodyLen/2)); err != nil {
		t.Fatal(err)
	}
	if code, body := readAnswer(t, echo); code != 200 || body != strconv.Itoa(bodyLen) {
		t.Fatalf("echo: %d %q, want 200 %d", code, body, bodyLen)
	}

	// A client that sends nothing: closed after socket-timeout.
	silent := dialUnix(t, sock)
	small("while a client sends nothing")
	silent.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a silent client: read %d bytes, %v; want EOF after socket-timeout", n, err)
	}
	m.waitLog(`socket-timeout: no data from the client for 2000 ms`, 1)

	m.waitLog(`request: method=GET path=/small status=200`, 3)
	m.waitLog(`request: method=GET path=/big status=200 bytes=`, 1)
}
