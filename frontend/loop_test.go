package frontend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// echoVars answers with the request's vars, sorted, one per line, and
// its body: what the worker saw, for comparing the two paths.
func echoVars(c net.Conn, p *uwsgi.Packet, body []byte) {
	var lines []string
	for _, v := range p.Vars {
		if v.Key == "REMOTE_PORT" || v.Key == "SERVER_PORT" {
			continue // differ per connection and per server
		}
		lines = append(lines, v.Key+"="+v.Value)
	}
	sort.Strings(lines)
	text := strings.Join(lines, "\n") + "\n\n" + string(body)
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(text), text)
}

func dialFront(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second)) // bounds a failure only
	return c, bufio.NewReader(c)
}

func readAnswer(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// expectEOF waits for the front end to close c.
func expectEOF(t *testing.T, br *bufio.Reader) {
	t.Helper()
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open (read %q, %v)", b, err)
	}
}

func TestLoopKeepAlivePipeliningAndClose(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, p *uwsgi.Packet, _ []byte) {
		path, _ := p.Get("PATH_INFO")
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(path), path)
	})
	s, base, logs := frontServer(t, Config{Backends: []string{w.path}})
	c, br := dialFront(t, base)
	// Three requests in one write: answered in order on one connection.
	io.WriteString(c, "GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\nGET /three HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/one", "/two", "/three"} {
		resp, body := readAnswer(t, br, "GET")
		if resp.StatusCode != 200 || body != want || resp.Close || resp.Header.Get("Date") == "" {
			t.Fatalf("want %s: %d %q close=%v %v", want, resp.StatusCode, body, resp.Close, resp.Header)
		}
	}
	io.WriteString(c, "GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if resp, body := readAnswer(t, br, "GET"); body != "/last" || !resp.Close {
		t.Fatalf("Connection: close not honoured: %q close=%v", body, resp.Close)
	}
	expectEOF(t, br)
	if n, h := s.loopAnswered.Load(), s.handedOff.Load(); n != 4 || h != 0 {
		t.Errorf("loop answered %d, handed off %d; want 4 and 0", n, h)
	}
	if !strings.Contains(logs.String(), "request: method=GET uri=/two proto=HTTP/1.1 status=200 bytes=4") {
		t.Errorf("access log: %s", logs)
	}
}

func TestLoopHTTP10(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", answer("ten"))
	_, base, _ := frontServer(t, Config{Backends: []string{w.path}})
	c, br := dialFront(t, base)
	io.WriteString(c, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	resp, body := readAnswer(t, br, "GET")
	if resp.Proto != "HTTP/1.0" || body != "ten" || resp.Header.Get("Connection") != "keep-alive" {
		t.Fatalf("%s %q %v", resp.Proto, body, resp.Header)
	}
	io.WriteString(c, "GET /b HTTP/1.0\r\n\r\n") // no keep-alive: one answer, then the close
	if resp, body = readAnswer(t, br, "GET"); body != "ten" || !resp.Close {
		t.Fatalf("%q close=%v", body, resp.Close)
	}
	expectEOF(t, br)
}

// A small body sent in pieces reaches the worker whole, with its length.
func TestLoopSmallBodyInPieces(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", answer("got it"))
	s, base, _ := frontServer(t, Config{Backends: []string{w.path}})
	c, br := dialFront(t, base)
	io.WriteString(c, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello")
	io.WriteString(c, " world")
	if resp, body := readAnswer(t, br, "POST"); resp.StatusCode != 200 || body != "got it" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	p, body := w.last()
	if cl, _ := p.Get("CONTENT_LENGTH"); cl != "11" || string(body) != "hello world" {
		t.Fatalf("CONTENT_LENGTH %q body %q", cl, body)
	}
	if s.loopAnswered.Load() != 1 || s.handedOff.Load() != 0 {
		t.Errorf("answered %d handed off %d", s.loopAnswered.Load(), s.handedOff.Load())
	}
}

// An answer far larger than the socket buffers, to a client that reads
// in small pieces, arrives whole: the loop waits for the client's socket
// to drain (EAGAIN, then EPOLLOUT) and reads from the worker only as
// fast as the client takes it. (A tiny SO_RCVBUF would test TCP's
// zero-window probes instead, which back off to seconds on loopback.)
func TestLoopLargeAnswerToSlowClient(t *testing.T) {
	dir := tempDir(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(data))
		c.Write(data)
	})
	s, base, _ := frontServer(t, Config{Backends: []string{w.path}})
	c, _ := dialFront(t, base)
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 700))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("read %d of %d: %v", n, len(data), err)
	}
	want := sha256.Sum256(data)
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the body arrived changed")
	}
	if s.loopAnswered.Load() != 1 {
		t.Errorf("the loop did not serve it (answered %d, handed off %d)", s.loopAnswered.Load(), s.handedOff.Load())
	}
}

// What the loop does not serve goes to net/http, the same connection
// going on there: HEAD, a chunked body, an answer of unknown length (the
// worker already has the request: it must not get it twice).
func TestLoopHandsOffTheRest(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, p *uwsgi.Packet, body []byte) {
		if path, _ := p.Get("PATH_INFO"); path == "/stream" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil the close")
			return
		}
		answer("plain")(c, p, body)
	})
	s, base, _ := frontServer(t, Config{Backends: []string{w.path}})
	for i, tc := range []struct{ req, method, want string }{
		{"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD", ""},
		{"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "POST", "plain"},
		{"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "until the close"},
	} {
		c, br := dialFront(t, base)
		io.WriteString(c, tc.req)
		resp, body := readAnswer(t, br, tc.method)
		if resp.StatusCode != 200 || body != tc.want {
			t.Fatalf("%q: %d %q", tc.req, resp.StatusCode, body)
		}
		// The connection goes on under net/http.
		io.WriteString(c, "GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, body := readAnswer(t, br, "GET"); body != "plain" {
			t.Fatalf("after %q: %q", tc.req, body)
		}
		if got := s.handedOff.Load(); got != int64(i+1) {
			t.Fatalf("%q: %d handoffs", tc.req, got)
		}
	}
	if w.count() != 6 {
		t.Errorf("worker got %d requests, want 6 (none twice)", w.count())
	}
	if p, _ := w.last(); p == nil {
		t.Fatal("no request")
	}
}

// The loop and net/http alone give the worker the same vars and the
// client the same answer.
func TestLoopMatchesNetHTTP(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", echoVars)
	_, fast, _ := frontServer(t, Config{Backends: []string{w.path}, DocumentRoot: "/srv"})
	_, slow, _ := frontServer(t, Config{Backends: []string{w.path}, DocumentRoot: "/srv", NoEventLoop: true})
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
		"GET /a/../b//c/./d?x=1&y=%20 HTTP/1.1\r\nHost: Example.COM:8080\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n",
		"GET /%7Euser/caf%C3%A9 HTTP/1.1\r\nHost: x\r\nCookie: a=1\r\ncookie: b=2\r\nX-Dup: 1\r\nx-dup: 2\r\nX_Under: no\r\n\r\n",
		"POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\na=1&b=2",
		"DELETE /item/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"GET /old HTTP/1.0\r\n\r\n",
		"GET /v6 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n",
	} {
		var answers [2]string
		for i, base := range []string{fast, slow} {
			c, br := dialFront(t, base)
			io.WriteString(c, req)
			resp, body := readAnswer(t, br, strings.Fields(req)[0])
			resp.Header.Del("Date")
			var hb strings.Builder
			resp.Header.Write(&hb)
			answers[i] = fmt.Sprintf("%s %d close=%v\n%s\n%s", resp.Proto, resp.StatusCode, resp.Close, hb.String(), body)
		}
		if answers[0] != answers[1] {
			t.Errorf("%q:\nloop:\n%s\nnet/http:\n%s", req, answers[0], answers[1])
		}
	}
}

func TestLoopBodyTimeout408(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", answer("no"))
	_, base, _ := frontServer(t, Config{Backends: []string{w.path}, BodyTimeout: 200 * time.Millisecond})
	c, br := dialFront(t, base)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhalf")
	resp, _ := readAnswer(t, br, "POST")
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Fatalf("%d close=%v", resp.StatusCode, resp.Close)
	}
	expectEOF(t, br)
	if w.count() != 0 {
		t.Error("an incomplete body reached the worker")
	}
}

func TestLoopIdleTimeout(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", answer("x"))
	_, base, _ := frontServer(t, Config{Backends: []string{w.path}, IdleTimeout: 200 * time.Millisecond})
	c, br := dialFront(t, base)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	readAnswer(t, br, "GET")
	expectEOF(t, br) // closed after idle-timeout, not at the 20 s bound
}

// stoppingWithOneInFlight starts Shutdown while one connection has a
// request waiting in the worker (until release is closed) and another is
// idle; it returns once the loop has closed the idle one.
func stoppingWithOneInFlight(t *testing.T) (base string, busy *bufio.Reader, release chan struct{}, stopped chan error) {
	t.Helper()
	dir := tempDir(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, p *uwsgi.Packet, b []byte) {
		if path, _ := p.Get("PATH_INFO"); path == "/slow" {
			close(arrived)
			<-release
		}
		answer("finished")(c, p, b)
	})
	s, base, _ := frontServer(t, Config{Backends: []string{w.path}})
	idle, idleBR := dialFront(t, base)
	io.WriteString(idle, "GET /quick HTTP/1.1\r\nHost: x\r\n\r\n")
	readAnswer(t, idleBR, "GET")
	busyConn, busy := dialFront(t, base)
	io.WriteString(busyConn, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	<-arrived
	stopped = make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	expectEOF(t, idleBR)
	return base, busy, release, stopped
}

// Shutdown closes idle connections at once, lets a request in flight
// finish (its answer says Connection: close), and returns when it is out.
func TestLoopShutdownLetsInFlightFinish(t *testing.T) {
	_, busyBR, release, stopped := stoppingWithOneInFlight(t)
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned (%v) with a request in flight", err)
	default:
	}
	close(release)
	resp, body := readAnswer(t, busyBR, "GET")
	if body != "finished" || !resp.Close {
		t.Fatalf("in-flight answer %q close=%v", body, resp.Close)
	}
	expectEOF(t, busyBR)
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TCP backends are connected without blocking the loop: a refused one is
// skipped (one log line) and the request goes to the next.
func TestLoopTCPBackends(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "tcp", answer("over tcp"))
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "tcp:" + gone.Addr().String()
	gone.Close()
	s, base, logs := frontServer(t, Config{Backends: []string{dead, w.path}})
	c, br := dialFront(t, base)
	for i := 0; i < 4; i++ {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, body := readAnswer(t, br, "GET"); resp.StatusCode != 200 || body != "over tcp" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if s.loopAnswered.Load() != 4 || w.count() != 4 {
		t.Errorf("loop answered %d, worker got %d; want 4 and 4", s.loopAnswered.Load(), w.count())
	}
	if n := strings.Count(logs.String(), "backend refused a connection"); n != 1 {
		t.Errorf("%d dead-backend lines, want 1: %s", n, logs)
	}
}

// When Shutdown's context ends first, what is still running is cut.
func TestLoopShutdownDeadlineCutsTheRest(t *testing.T) {
	dir := tempDir(t)
	arrived, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	w := startFakeWorker(t, dir, "w.sock", func(net.Conn, *uwsgi.Packet, []byte) {
		close(arrived)
		<-release
	})
	s, base, _ := frontServer(t, Config{Backends: []string{w.path}})
	c, br := dialFront(t, base)
	io.WriteString(c, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
	<-arrived
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Shutdown: %v, want the context's deadline", err)
	}
	expectEOF(t, br)
}

// tinyBacklogWorker is a uwsgi server whose listen queue holds one
// connection and that accepts nothing until release is closed.
func tinyBacklogWorker(t *testing.T, dir string, release chan struct{}) string {
	t.Helper()
	path := dir + "/tiny.sock"
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), path)
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		<-release
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				p, err := uwsgi.ReadPacket(bufio.NewReader(c), uwsgi.MaxBufferSize)
				if err == nil {
					answer("made it")(c, p, nil)
				}
			}()
		}
	}()
	return path
}

// A full listen queue is waited out (up to connect-timeout), not
// answered with 502: the requests that found no room get through once
// the worker accepts again.
func TestLoopWaitsForRoomInAFullListenQueue(t *testing.T) {
	dir := tempDir(t)
	release := make(chan struct{})
	path := tinyBacklogWorker(t, dir, release)
	s, base, _ := frontServer(t, Config{Backends: []string{path}, ConnectTimeout: time.Minute})
	var readers []*bufio.Reader
	for i := 0; i < 4; i++ {
		c, br := dialFront(t, base)
		fmt.Fprintf(c, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		readers = append(readers, br)
	}
	for deadline := time.Now().Add(10 * time.Second); s.backlogWaits.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no request ever found the listen queue full")
		}
		time.Sleep(time.Millisecond) // polling the counter
	}
	close(release)
	for i, br := range readers {
		if resp, body := readAnswer(t, br, "GET"); resp.StatusCode != 200 || body != "made it" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// Past connect-timeout the client gets 502, and the log says why.
func TestLoopFullListenQueue502AfterConnectTimeout(t *testing.T) {
	dir := tempDir(t)
	release := make(chan struct{})
	defer close(release)
	path := tinyBacklogWorker(t, dir, release)
	_, base, logs := frontServer(t, Config{Backends: []string{path}, ConnectTimeout: 200 * time.Millisecond})
	got502 := false
	for i := 0; i < 4 && !got502; i++ { // the first ones fill the queue and wait for their answer
		c, br := dialFront(t, base)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if i < 2 {
			continue
		}
		resp, _ := readAnswer(t, br, "GET")
		got502 = resp.StatusCode == http.StatusBadGateway
	}
	if !got502 {
		t.Fatal("no 502 past connect-timeout")
	}
	if !strings.Contains(logs.String(), "listen queue stayed full for connect-timeout") {
		t.Errorf("log: %s", logs)
	}
}
