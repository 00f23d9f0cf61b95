package python_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
)

// socket-timeout: clients that send two bytes and go silent hold every
// thread, and a normal request still gets its answer once they time out.
func TestSocketTimeoutFreesSilentClients(t *testing.T) {
	const timeout = 300 * time.Millisecond
	w := startWorker(t, testApp, nil, "SUPERVISE_THREADS=2", ipc.EnvSocketTimeoutMS+"=300")
	var silent []net.Conn
	for i := 0; i < 2; i++ { // one per thread
		c, err := net.Dial("unix", w.uwsgi)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0, 10})
		silent = append(silent, c)
	}
	start := time.Now()
	got := make(chan string, 1)
	go func() {
		c, err := net.Dial("unix", w.uwsgi)
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		pkt, _ := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"},
			{Key: "PATH_INFO", Value: "/ok"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.0"}})
		c.Write(pkt)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	if b := <-got; !strings.HasPrefix(b, "GET /ok") {
		t.Fatalf("normal request behind silent clients: %q", b)
	}
	if took := time.Since(start); took > timeout+3*time.Second {
		t.Fatalf("answered after %v, socket-timeout is %v", took, timeout)
	}
	for _, c := range silent {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("a silent client was not closed: %d bytes, %v", n, err)
		}
	}
	w.waitLog(t, "socket-timeout: no data from the client for 300 ms; connection closed")
}

// An http-socket client that stops in the middle of its head is closed too.
func TestSocketTimeoutOnHTTPHead(t *testing.T) {
	w := startWorker(t, testApp, nil, ipc.EnvSocketTimeoutMS+"=200")
	c, err := net.Dial("tcp", w.http)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a half-sent head was not closed: %v", err)
	}
	w.waitLog(t, "socket-timeout")
}

// An app that closes the inherited listening socket (fd 3): accept fails
// with EBADF while epoll still reports the shared socket. The worker says
// so and exits non-zero for the master to replace it, instead of spinning.
func TestListenerClosedByTheAppEndsTheWorker(t *testing.T) {
	app := `
import os
def application(environ, start_response):
    if environ["PATH_INFO"] == "/close-fd3":
        os.close(3)
    start_response("200 OK", [("Content-Length", "2")])
    return [b"ok"]
`
	w := startWorker(t, app, nil)
	resp, err := http.Get("http://" + w.http + "/close-fd3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c, err := net.Dial("unix", w.uwsgi) // wakes the threads' epoll on the shared socket
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker kept running without its listening socket")
	}
	if code := w.cmd.ProcessState.ExitCode(); code != ipc.ExitListenerGone {
		t.Fatalf("exit code %d, want %d", code, ipc.ExitListenerGone)
	}
	w.waitLog(t, "the listening socket is gone")
}

// A client that stops in the middle of its body: the app's read times out,
// the connection is closed with one line, and no traceback blames the app.
func TestSocketTimeoutOnABodyIsNotAnAppError(t *testing.T) {
	w := startWorker(t, testApp, nil, ipc.EnvSocketTimeoutMS+"=200")
	c, err := net.Dial("unix", w.uwsgi)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pkt, _ := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "POST"},
		{Key: "PATH_INFO", Value: "/upload"}, {Key: "CONTENT_LENGTH", Value: "100"}})
	c.Write(append(pkt, "ten bytes."...))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
		t.Fatalf("a stalled upload got %q, %v; want the connection closed", b, err)
	}
	w.waitLog(t, "socket-timeout: the client stalled for 200 ms; connection closed")
	if strings.Contains(w.log.String(), "the app raised") {
		t.Fatalf("a client's stall was logged as the app's exception:\n%s", w.log.String())
	}
}

// A uwsgi client that takes nothing of a large response: the worker no
// longer sets SO_SNDTIMEO on every connection, only once a response
// outgrows the send buffer, and that still frees the thread after
// socket-timeout (a write that blocked forever would hold it), for a body
// written in pieces and for one written at once.
func TestSocketTimeoutOnAStalledReader(t *testing.T) {
	app := `
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if environ["PATH_INFO"] == "/pieces":
        return (b"x" * 65536 for _ in range(256))
    return [b"y" * (16 << 20)]
`
	for _, path := range []string{"/pieces", "/whole"} {
		t.Run(path[1:], func(t *testing.T) {
			w := startWorker(t, app, nil, ipc.EnvSocketTimeoutMS+"=200")
			c, err := net.Dial("unix", w.uwsgi)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			pkt, _ := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"},
				{Key: "PATH_INFO", Value: path}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}})
			c.Write(pkt)
			w.waitLog(t, "socket-timeout: the client stalled for 200 ms; connection closed")
		})
	}
}
