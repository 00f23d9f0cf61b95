package worker

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
)

// startServer runs a one-thread server on a fresh unix socket, with exit
// recorded instead of ending the test binary.
func startServer(t *testing.T, h http.Handler, env ...string) (s *server, l *net.UnixListener, path string, exits chan int) {
	t.Helper()
	for i := 0; i+1 < len(env); i += 2 {
		t.Setenv(env[i], env[i+1])
	}
	t.Setenv(ipc.EnvThreads, "1")
	path = filepath.Join(t.TempDir(), "w.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l = ln.(*net.UnixListener)
	s = newServer(h, []Listener{{Listener: l, Proto: ipc.ProtoUwsgi}})
	exits = make(chan int, 1)
	s.exit = func(code int) { exits <- code }
	go s.run()
	return s, l, path, exits
}

func uwsgiGet(t *testing.T, path, uri string) (string, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	pkt, _ := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"},
		{Key: "PATH_INFO", Value: uri}, {Key: "REQUEST_URI", Value: uri}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.0"}})
	c.Write(pkt)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// socket-timeout: a client that sends two bytes and goes silent holds the
// only thread until the timeout; then it is closed, counted as a read
// error, and the next request is served.
func TestSocketTimeoutFreesTheThread(t *testing.T) {
	sb, err := ipc.CreateScoreboard(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	fd, err := unix.Dup(int(sb.File.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 200 * time.Millisecond
	_, l, path, _ := startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		ipc.EnvSocketTimeoutMS, "200", ipc.EnvScoreboardFD, strconv.Itoa(fd), ipc.EnvScoreboardIdx, "0")
	defer l.Close()
	silent, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silent.Write([]byte{0, 10})
	start := time.Now()
	if b, err := uwsgiGet(t, path, "/"); err != nil || b != "ok" {
		t.Fatalf("request behind a silent client: %q, %v", b, err)
	}
	if took := time.Since(start); took > timeout+3*time.Second {
		t.Fatalf("answered after %v, socket-timeout is %v", took, timeout)
	}
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("the silent client was not closed: %v", err)
	}
	if n := sb.Core(0, 0, ipc.CoreReadErrors); n != 1 {
		t.Fatalf("read_errors %d, want 1", n)
	}
}

// An app that closes the listening socket under the worker, by Close or
// by closing its descriptor: the worker exits with ExitListenerGone (the
// master replaces it) instead of staying up without accepting.
func TestListenerClosedByTheAppExits(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	for _, how := range []string{"Close", "its fd closed and reused"} {
		t.Run(how, func(t *testing.T) {
			var l *net.UnixListener
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if how == "Close" {
					l.Close()
				} else {
					raw, _ := l.SyscallConn()
					// close(fd) and an open() that takes the number, in one
					// step: a later Close by the runtime closes our copy of
					// /dev/null, not another test's descriptor.
					raw.Control(func(fd uintptr) { unix.Dup2(int(devnull.Fd()), int(fd)) })
				}
				io.WriteString(w, "closed")
			})
			_, ln, path, exits := startServer(t, h, ipc.EnvSocketTimeoutMS, "1000")
			l = ln
			keep, err := ln.File() // the master's copy keeps the socket alive
			if err != nil {
				t.Fatal(err)
			}
			defer keep.Close()
			ln.SetUnlinkOnClose(false)
			if b, err := uwsgiGet(t, path, "/close"); err != nil || b != "closed" {
				t.Fatalf("%q, %v", b, err)
			}
			if c, err := net.Dial("unix", path); err == nil { // wakes a poller on the shared socket
				defer c.Close()
			}
			select {
			case code := <-exits:
				if code != ipc.ExitListenerGone {
					t.Fatalf("exit %d, want %d", code, ipc.ExitListenerGone)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the worker stayed up without its listening socket")
			}
		})
	}
}
