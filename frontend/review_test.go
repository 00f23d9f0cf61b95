package frontend

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/uwsgi"
)

// handOff closes the client socket's descriptor once: a second close
// would close whatever descriptor took its number meanwhile (another
// loop's new connection, a worker socket).
func TestHandOffClosesTheClientSocketOnce(t *testing.T) {
	s := &Server{handoff: newHandoffListener(nil)}
	defer s.handoff.Close()
	go func() {
		for {
			c, err := s.handoff.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var devnull unix.Stat_t
	if err := unix.Stat("/dev/null", &devnull); err != nil {
		t.Fatal(err)
	}
	// Another thread opens and checks descriptors meanwhile, as a loop
	// accepting connections would.
	var stop, victim atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			ok := true
			for i := 0; i < 20 && ok; i++ {
				var st unix.Stat_t
				ok = unix.Fstat(fd, &st) == nil && st.Ino == devnull.Ino && st.Dev == devnull.Dev
			}
			if !ok {
				victim.Store(true) // not ours to close any more
				continue
			}
			unix.Close(fd)
		}
	}()
	for i := 0; i < 20000 && !victim.Load(); i++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.handOff(fds[0], nil, connInfo{}, nil)
		unix.Close(fds[1])
	}
	stop.Store(true)
	<-done
	if victim.Load() {
		t.Fatal("handOff closed a descriptor that was not its own any more")
	}
}

// bigAnswer is a worker answering n bytes with a Content-Length.
func bigAnswer(n int) func(net.Conn, *uwsgi.Packet, []byte) {
	data := bytes.Repeat([]byte("x"), n)
	return func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(data))
		c.Write(data)
	}
}

// A client that reads nothing of its answer but keeps sending bytes must
// still be cut after send-timeout: the bytes it sends are no progress of
// the answer, and the worker stays blocked behind it meanwhile.
func TestLoopSendTimeoutNotRefreshedByClientBytes(t *testing.T) {
	dir := tempDir(t)
	const size = 32 << 20
	w := startFakeWorker(t, dir, "w.sock", bigAnswer(size))
	_, base, _ := frontServer(t, Config{Backends: []string{w.path}, SendTimeout: 300 * time.Millisecond})
	c, _ := dialFront(t, base)
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 0; i < 40; i++ { // 2 s of a byte every 50 ms, nothing read
		time.Sleep(50 * time.Millisecond)
		if _, err := c.Write([]byte("G")); err != nil {
			break // cut: what the test wants
		}
	}
	n, _ := io.Copy(io.Discard, c)
	if n >= size {
		t.Fatalf("got the whole answer (%d bytes) after 2 s of not reading with a 300 ms send-timeout", n)
	}
}

// An answer still going out when Shutdown starts was begun as keep-alive;
// once it is out the connection must close, not wait idle-timeout with
// Shutdown waiting on it.
func TestLoopShutdownClosesKeepAliveFinishedAfterDrain(t *testing.T) {
	dir := tempDir(t)
	const size = 32 << 20
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, p *uwsgi.Packet, b []byte) {
		if path, _ := p.Get("PATH_INFO"); path == "/big" {
			bigAnswer(size)(c, p, b)
			return
		}
		answer("small")(c, p, b)
	})
	s, base, _ := frontServer(t, Config{Backends: []string{w.path}, IdleTimeout: time.Minute})
	idle, idleBR := dialFront(t, base)
	io.WriteString(idle, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
	readAnswer(t, idleBR, "GET")

	busy, _ := dialFront(t, base)
	busyBR := bufio.NewReaderSize(busy, 512)
	io.WriteString(busy, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(busyBR, &http.Request{Method: "GET"}) // the answer has started
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stopped <- s.Shutdown(ctx)
	}()
	expectEOF(t, idleBR) // the loop has drained
	if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != size {
		t.Fatalf("read %d of %d: %v", n, size, err)
	}
	busy.SetReadDeadline(time.Now().Add(3 * time.Second))
	expectEOF(t, busyBR)
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown still waiting 3 s after the last answer went out")
	}
}

// A worker's status line ending in a bare LF must not lose the reason
// phrase's last byte ("200 O"); it is now refused as every bare LF in an
// answer head is (an app's "200 OK\nSet-Cookie: ..." status would add a
// header): 502.
func TestLoopStatusLineBareLF(t *testing.T) {
	dir := tempDir(t)
	w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
		io.WriteString(c, "HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nok")
	})
	_, base, _ := frontServer(t, Config{Backends: []string{w.path}})
	c, br := dialFront(t, base)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := readAnswer(t, br, "GET")
	if resp.StatusCode != 502 || body == "ok" {
		t.Fatalf("status %q body %q, want 502", resp.Status, body)
	}
}

// Shutdown stops accepting at once, as net/http's closes its listeners:
// a client connecting while a request is still in flight is refused (or
// reset), not left in the listen queue until the last answer is out.
func TestLoopShutdownRefusesNewConnections(t *testing.T) {
	base, busyBR, release, stopped := stoppingWithOneInFlight(t)
	late, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 2*time.Second)
	if err == nil {
		defer late.Close()
		late.SetDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(late, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
		_, err = late.Read(make([]byte, 1))
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Error("a connection made during Shutdown waits in the listen queue")
		}
	}
	close(release)
	readAnswer(t, busyBR, "GET")
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
