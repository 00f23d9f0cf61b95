package frontend

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/uwsgi"
)

// fakeWorker is a uwsgi server in the test: one request per connection,
// the packet and CONTENT_LENGTH bytes of body, then handle's raw answer.
type fakeWorker struct {
	path string
	mu   sync.Mutex
	got  []*uwsgi.Packet
	body [][]byte
}

func startFakeWorker(t *testing.T, dir, name string, handle func(c net.Conn, p *uwsgi.Packet, body []byte)) *fakeWorker {
	t.Helper()
	w := &fakeWorker{path: filepath.Join(dir, name)}
	network := "unix"
	if name == "tcp" { // on a loopback port; path is "tcp:127.0.0.1:PORT"
		network, w.path = "tcp", "127.0.0.1:0"
	}
	ln, err := net.Listen(network, w.path)
	if err != nil {
		t.Fatal(err)
	}
	if network == "tcp" {
		w.path = "tcp:" + ln.Addr().String()
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				p, err := uwsgi.ReadPacket(br, uwsgi.MaxBufferSize)
				if err != nil {
					return
				}
				cl, _ := p.Get("CONTENT_LENGTH")
				n, _ := strconv.Atoi(cl)
				body := make([]byte, n)
				if _, err := io.ReadFull(br, body); err != nil {
					return
				}
				w.mu.Lock()
				w.got, w.body = append(w.got, p), append(w.body, body)
				w.mu.Unlock()
				handle(c, p, body)
			}()
		}
	}()
	return w
}

func (w *fakeWorker) last() (*uwsgi.Packet, []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.got) == 0 {
		return nil, nil
	}
	return w.got[len(w.got)-1], w.body[len(w.body)-1]
}

func (w *fakeWorker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.got)
}

func answer(text string) func(net.Conn, *uwsgi.Packet, []byte) {
	return func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(text), text)
	}
}

// frontFor serves cfg on a loopback port and returns its base URL and
// the captured log.
func frontFor(t *testing.T, cfg Config) (string, *syncBuffer) {
	t.Helper()
	_, base, logs := frontServer(t, cfg)
	return base, logs
}

// frontServer is frontFor with the Server.
func frontServer(t *testing.T, cfg Config) (*Server, string, *syncBuffer) {
	t.Helper()
	var logBuf syncBuffer
	cfg.Log = hclog.New(&hclog.LoggerOptions{Output: &logBuf, Level: hclog.Info})
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Serve(ln); close(done) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
		<-done
	})
	return s, "http://" + ln.Addr().String(), &logBuf
}

type syncBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.String()
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "fe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestForwardGETAndHeaders(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, p *uwsgi.Packet, _ []byte) {
		io.WriteString(c, "HTTP/1.1 201 Created\r\nX-App: yes\r\nConnection: X-Hop\r\nX-Hop: secret\r\nKeep-Alive: 5\r\n\r\nbody to the close")
	})
	base, logs := frontFor(t, Config{Backends: []string{"unix:" + w.path}})
	req, _ := http.NewRequest("GET", base+"/p?q=1", nil)
	resp, body := do(t, req)
	if resp.StatusCode != 201 || body != "body to the close" || resp.Header.Get("X-App") != "yes" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	for _, h := range []string{"X-Hop", "Keep-Alive"} {
		if resp.Header.Get(h) != "" {
			t.Errorf("hop-by-hop header %s forwarded", h)
		}
	}
	p, _ := w.last()
	if v, _ := p.Get("PATH_INFO"); v != "/p" {
		t.Errorf("PATH_INFO %q", v)
	}
	if v, _ := p.Get("REMOTE_ADDR"); v != "127.0.0.1" {
		t.Errorf("REMOTE_ADDR %q", v)
	}
	if !strings.Contains(logs.String(), "request: method=GET uri=/p?q=1 proto=HTTP/1.1 status=201 bytes=17") {
		t.Errorf("access log: %s", logs)
	}
}

func TestChunkedBodyGetsExactLength(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", answer("ok"))
	for _, size := range []int{10, 5000} { // under and over post-buffering
		base, _ := frontFor(t, Config{Backends: []string{w.path}, PostBuffering: 1024, TempDir: dir})
		data := bytes.Repeat([]byte("z"), size)
		// io.MultiReader hides the length: the client sends it chunked.
		req, _ := http.NewRequest("POST", base+"/up", io.MultiReader(bytes.NewReader(data)))
		resp, _ := do(t, req)
		if resp.StatusCode != 200 {
			t.Fatalf("size %d: %d", size, resp.StatusCode)
		}
		p, body := w.last()
		if cl, _ := p.Get("CONTENT_LENGTH"); cl != strconv.Itoa(size) || !bytes.Equal(body, data) {
			t.Fatalf("size %d: CONTENT_LENGTH %q, %d bytes arrived", size, cl, len(body))
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "supervise-body-*")); len(left) != 0 {
		t.Errorf("spool files left behind: %v", left)
	}
}

func TestLimitPost(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", answer("ok"))
	base, _ := frontFor(t, Config{Backends: []string{w.path}, LimitPost: 100, PostBuffering: 10})
	for name, body := range map[string]io.Reader{
		"content-length": bytes.NewReader(make([]byte, 101)),
		"chunked":        io.MultiReader(bytes.NewReader(make([]byte, 101))),
	} {
		req, _ := http.NewRequest("POST", base+"/", body)
		if resp, _ := do(t, req); resp.StatusCode != 413 {
			t.Errorf("%s: %d, want 413", name, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("POST", base+"/", bytes.NewReader(make([]byte, 100)))
	if resp, _ := do(t, req); resp.StatusCode != 200 {
		t.Errorf("at the limit: %d", resp.StatusCode)
	}
	if w.count() != 1 {
		t.Errorf("%d requests reached the worker, want 1", w.count())
	}
}

func TestHeaderLimits431(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", answer("ok"))
	base, _ := frontFor(t, Config{Backends: []string{w.path}, BufferSize: 4096})
	for _, size := range []int{4500, 20000} { // past the vars block; past net/http's header limit
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Header.Set("X-Big", strings.Repeat("b", size))
		if resp, _ := do(t, req); resp.StatusCode != 431 {
			t.Errorf("header of %d bytes: %d, want 431", size, resp.StatusCode)
		}
	}
	if w.count() != 0 {
		t.Errorf("oversized requests reached the worker")
	}
}

func TestBackendDown502AndHung504(t *testing.T) {
	dir := tempDir(t)
	base, logs := frontFor(t, Config{Backends: []string{filepath.Join(dir, "nobody.sock")}})
	req, _ := http.NewRequest("GET", base+"/", nil)
	if resp, _ := do(t, req); resp.StatusCode != 502 {
		t.Fatalf("dead backend: %d", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "no backend reachable; 502") {
		t.Errorf("log: %s", logs)
	}

	release := make(chan struct{})
	hung := startFakeWorker(t, dir, "hung.sock", func(net.Conn, *uwsgi.Packet, []byte) { <-release })
	t.Cleanup(func() { close(release) }) // before the worker's cleanup waits for its handler
	base, logs = frontFor(t, Config{Backends: []string{hung.path}, BackendTimeout: 200 * time.Millisecond})
	req, _ = http.NewRequest("GET", base+"/", nil)
	if resp, _ := do(t, req); resp.StatusCode != 504 {
		t.Fatalf("hung backend: %d", resp.StatusCode)
	}
	if n := strings.Count(logs.String(), "backend did not answer within backend-timeout; 504"); n != 1 {
		t.Errorf("%d timeout lines: %s", n, logs)
	}

	garbage := startFakeWorker(t, dir, "garbage.sock", func(c net.Conn, _ *uwsgi.Packet, _ []byte) { io.WriteString(c, "not http\r\n\r\n") })
	base, _ = frontFor(t, Config{Backends: []string{garbage.path}})
	req, _ = http.NewRequest("GET", base+"/", nil)
	if resp, _ := do(t, req); resp.StatusCode != 502 {
		t.Fatalf("garbage answer: %d", resp.StatusCode)
	}
}

func TestRoundRobinSkipsDeadBackend(t *testing.T) {
	dir := tempDir(t)
	a := startFakeWorker(t, dir, "a.sock", answer("a"))
	b := startFakeWorker(t, dir, "b.sock", answer("b"))
	base, logs := frontFor(t, Config{Backends: []string{a.path, filepath.Join(dir, "dead.sock"), b.path}})
	for i := 0; i < 9; i++ {
		req, _ := http.NewRequest("GET", base+"/", nil)
		if resp, body := do(t, req); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
	}
	if a.count() == 0 || b.count() == 0 || a.count()+b.count() != 9 {
		t.Errorf("spread a=%d b=%d", a.count(), b.count())
	}
	if n := strings.Count(logs.String(), "backend refused a connection"); n != 1 {
		t.Errorf("%d dead-backend lines, want 1 (then skipped): %s", n, logs)
	}
}

func TestStreamingFlushesEachPart(t *testing.T) {
	dir := tempDir(t)
	next := make(chan struct{})
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: one\n\n")
		<-next // the client must see "one" before "two" is written
		io.WriteString(c, "data: two\n\n")
	})
	base, _ := frontFor(t, Config{Backends: []string{w.path}})
	resp, err := http.Get(base + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	close(next)
	rest, _ := io.ReadAll(br)
	if string(rest) != "\ndata: two\n\n" {
		t.Fatalf("rest %q", rest)
	}
}

func TestBackendDiesMidBodyCutsTheClient(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
	})
	base, _ := frontFor(t, Config{Backends: []string{w.path}})
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil {
		t.Fatal("a truncated body ended cleanly")
	}
}

func TestTrustedProxies(t *testing.T) {
	trusted := TrustedProxies{}
	for _, s := range []string{"127.0.0.1", "10.0.0.0/8"} {
		p, err := ParseTrustedProxy(s)
		if err != nil {
			t.Fatal(err)
		}
		trusted = append(trusted, p)
	}
	if _, err := ParseTrustedProxy("10.0.0/8"); err == nil {
		t.Error("bad CIDR accepted")
	}
	h := http.Header{"X-Forwarded-For": {"203.0.113.9, 198.51.100.1", "10.1.2.3"}, "X-Forwarded-Proto": {"https"}}
	c := connInfo{RemoteAddr: "127.0.0.1", RemotePort: "5000"}
	got, changed := trusted.apply(&c, h)
	// 10.1.2.3 is a trusted proxy; 198.51.100.1 is the first that is not.
	if !changed || got.RemoteAddr != "198.51.100.1" || !got.HTTPS || got.RemotePort != "" {
		t.Fatalf("trusted peer: %+v", got)
	}
	c.RemoteAddr = "192.0.2.1"
	if got, changed := trusted.apply(&c, h); changed || got.RemoteAddr != "192.0.2.1" || got.HTTPS {
		t.Fatalf("untrusted peer believed: %+v", got)
	}
	c.RemoteAddr = "127.0.0.1"
	if got, _ := trusted.apply(&c, http.Header{"X-Forwarded-For": {"garbage"}}); got.RemoteAddr != "127.0.0.1" {
		t.Fatalf("garbage X-Forwarded-For: %+v", got)
	}
}

func TestParseBackend(t *testing.T) {
	for in, want := range map[string]string{
		"unix:/run/a.sock": "unix /run/a.sock", "/run/a.sock": "unix /run/a.sock", "app.sock": "unix app.sock",
		"@abstract": "unix @abstract", "127.0.0.1:3031": "tcp 127.0.0.1:3031", "tcp:[::1]:3031": "tcp [::1]:3031",
	} {
		b, err := parseBackend(in)
		if err != nil || b.network+" "+b.addr != want {
			t.Errorf("parseBackend(%q) = %v %v, want %s", in, b, err, want)
		}
	}
	for _, bad := range []string{"unix:", "localhost", "tcp:nope"} {
		if _, err := parseBackend(bad); err == nil {
			t.Errorf("parseBackend(%q) accepted", bad)
		}
	}
}

// A client that hangs up while its request waits on the worker takes the
// worker's connection with it: the worker reads EOF at once, not after
// backend-timeout.
func TestClientGoneClosesBackend(t *testing.T) {
	dir := tempDir(t)
	gotEOF := make(chan struct{})
	w := startFakeWorker(t, dir, "slow.sock", func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
		c.SetReadDeadline(time.Now().Add(20 * time.Second)) // bounds a failure only
		if n, err := c.Read(make([]byte, 1)); n == 0 && err == io.EOF {
			close(gotEOF)
		}
	})
	base, _ := frontFor(t, Config{Backends: []string{w.path}, BackendTimeout: time.Minute})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	deadline := time.Now().Add(10 * time.Second)
	for w.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // polling for the worker to have the request
	}
	if w.count() == 0 {
		t.Fatal("the worker never got the request")
	}
	c.Close()
	select {
	case <-gotEOF:
	case <-time.After(10 * time.Second):
		t.Fatal("the worker's connection stayed open after the client left")
	}
}
