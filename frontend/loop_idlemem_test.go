package frontend

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/uwsgi"
)

// TestIdleKeepAliveMemory measures what an idle keep-alive connection
// costs the event loop: N connections (FE_IDLE_CONNS, default 2000) each
// make one request and stay open; the Go heap grows by at most 2 KB per
// connection (nginx: about 0.75 KB). The clients are raw sockets, which
// cost the test's heap nothing.
func TestIdleKeepAliveMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens thousands of connections")
	}
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("FE_IDLE_CONNS")); err == nil {
		n = v
	}
	var lim unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	if need := uint64(2*n + 200); lim.Cur < need {
		lim.Cur = need
		if lim.Max < need {
			lim.Max = need // root may raise it
		}
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
			t.Skipf("skipped: needs %d descriptors: %v", need, err)
		}
	}
	dir := tempDir(t)
	// A worker that keeps nothing of the requests (fakeWorker records them).
	wpath := filepath.Join(dir, "w.sock")
	wl, err := net.Listen("unix", wpath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wl.Close() })
	go func() {
		for {
			c, err := wl.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := uwsgi.ReadPacket(bufio.NewReader(c), uwsgi.MaxBufferSize); err == nil {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	base, _ := frontFor(t, Config{Backends: []string{wpath}, Loops: 1, DisableLogging: true})
	addr, err := net.ResolveTCPAddr("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	sa := &unix.SockaddrInet4{Port: addr.Port}
	copy(sa.Addr[:], addr.IP.To4())

	// One connection first, so the loop's pools and tables exist.
	fds := []int{idleClient(t, sa)}
	before, rss0 := heapInUse(), rssBytes()
	for i := 1; i < n; i++ {
		fds = append(fds, idleClient(t, sa))
	}
	after, rss1 := heapInUse(), rssBytes()
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	per := float64(after-before) / float64(n-1)
	t.Logf("%d idle keep-alive connections: %.0f bytes of Go heap each (process RSS: %.0f bytes each)",
		n, per, float64(rss1-rss0)/float64(n-1))
	if per > 2048 {
		t.Errorf("%.0f bytes per idle connection; want at most 2048", per)
	}
}

// idleClient connects, makes one request, reads its answer and leaves
// the connection open.
func idleClient(t *testing.T, sa *unix.SockaddrInet4) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(fd, sa); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, []byte("GET /a HTTP/1.1\r\nHost: t\r\nUser-Agent: idle\r\nAccept: */*\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var buf [512]byte
	got := 0
	for !bytes.HasSuffix(buf[:got], []byte("\r\n\r\nok")) {
		m, err := unix.Read(fd, buf[got:])
		if err != nil || m == 0 {
			t.Fatalf("answer %q: %v", buf[:got], err)
		}
		got += m
	}
	return fd
}

func heapInUse() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// rssBytes is the test process's resident set (/proc/self/statm).
func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
