package signals

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
)

// Server is the hub on the master's signal socket (ipc.EnvSignalSocket):
// one goroutine owns the Hub; connections, inotify and the clock feed it.
type Server struct {
	Path   string
	log    hclog.Logger
	hub    *Hub
	l      *net.UnixListener
	events chan func()
	ino    *inotify
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	conns  map[*net.UnixConn]bool
}

// Listen binds the signal socket at path. Only the runtime directory
// guards it (0700, owned by the workers' user), so the socket itself is
// 0666: workers running as another uid must be able to connect.
func Listen(path string, log hclog.Logger, processes func() int) (*Server, error) {
	os.Remove(path)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("signal socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o666); err != nil {
		l.Close()
		return nil, fmt.Errorf("signal socket %s: %w", path, err)
	}
	s := &Server{Path: path, log: log, l: l, events: make(chan func(), 64), stop: make(chan struct{}),
		done: make(chan struct{}), conns: map[*net.UnixConn]bool{}}
	ino, err := newInotify(s.post, func(wd int) { s.hub.FileChanged(wd) })
	if err != nil {
		log.Warn("inotify is not available: add_file_monitor will not fire", "error", err)
		s.hub = NewHub(log, nil, processes)
	} else {
		s.ino = ino
		s.hub = NewHub(log, ino, processes)
	}
	go s.accept()
	go s.run()
	return s, nil
}

// Close stops the server and closes every connection.
func (s *Server) Close() {
	s.once.Do(func() {
		close(s.stop)
		s.l.Close()
		<-s.done
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		if s.ino != nil {
			s.ino.close()
		}
	})
}

func (s *Server) run() {
	defer close(s.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		s.hub.Tick(now)
		t.Reset(max(s.hub.NextWake(now).Sub(time.Now()), 0))
		select {
		case <-s.stop:
			return
		case f := <-s.events:
			f()
		case <-t.C:
		}
	}
}

// post runs f on the hub's goroutine; false once the server stopped.
func (s *Server) post(f func()) bool {
	select {
	case s.events <- f:
		return true
	case <-s.stop:
		return false
	}
}

func (s *Server) accept() {
	for {
		c, err := s.l.AcceptUnix()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		go s.serve(c)
	}
}

// serve reads one process's packets: its hello, then requests.
func (s *Server) serve(c *net.UnixConn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		return
	}
	p, err := s.hello(c, string(buf[:n]))
	if err != nil {
		s.log.Warn("signal socket: a process did not say hello; connection closed", "error", err)
		return
	}
	if !s.post(func() { s.hub.Hello(p) }) {
		return
	}
	defer s.post(func() { s.hub.Gone(p) })
	for {
		n, err := c.Read(buf)
		if err != nil || n == 0 {
			return
		}
		msg := string(buf[:n])
		s.post(func() {
			if reply := s.hub.Handle(p, msg, time.Now()); reply != "" {
				c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte(reply)); err != nil {
					s.log.Warn("signal socket: cannot reply", "pid", p.PID, "error", err)
				}
			}
		})
	}
}

func (s *Server) hello(c *net.UnixConn, msg string) (*Proc, error) {
	f := strings.Fields(msg)
	if len(f) != 4 || f[0] != ipc.SignalHello {
		return nil, fmt.Errorf("got %q", msg)
	}
	id, err1 := strconv.Atoi(f[2])
	gen, err2 := strconv.Atoi(f[3])
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	p := &Proc{Role: f[1], ID: id, Gen: gen, PID: peerPID(c)}
	p.Send = func(sig uint8) error {
		c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Write([]byte(ipc.SignalDeliver + " " + strconv.Itoa(int(sig))))
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return errors.New("its signal queue is full (the process does not read its signals)")
		}
		return err
	}
	return p, nil
}

func peerPID(c *net.UnixConn) int {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}

// inotify watches files for add_file_monitor with uWSGI's event mask.
// One read of events routes each watch's signal once, as uWSGI's
// event_queue_ack_file_monitor does.
type inotify struct {
	f *os.File
}

// coalesce is how long after a file event the events that follow count
// as the same change.
const coalesce = 20 * time.Millisecond

const inotifyMask = unix.IN_ATTRIB | unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF |
	unix.IN_MODIFY | unix.IN_MOVE_SELF | unix.IN_MOVED_FROM | unix.IN_MOVED_TO

func newInotify(post func(func()) bool, changed func(wd int)) (*inotify, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	in := &inotify{f: os.NewFile(uintptr(fd), "inotify")}
	go func() {
		buf := make([]byte, 64*1024)
		for {
			n, err := in.f.Read(buf)
			if err != nil {
				return
			}
			seen := map[int]bool{}
			var wds []int
			collect := func(n int) {
				for off := 0; off+unix.SizeofInotifyEvent <= n; {
					wd := int(int32(binary.NativeEndian.Uint32(buf[off:])))
					nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
					off += unix.SizeofInotifyEvent + nameLen
					if !seen[wd] {
						seen[wd] = true
						wds = append(wds, wd)
					}
				}
			}
			collect(n)
			// One change is often several events a moment apart (a
			// rewrite truncates, then writes): what follows within
			// coalesce is the same change, as one uWSGI master cycle
			// reads them together.
			in.f.SetReadDeadline(time.Now().Add(coalesce))
			for {
				n, err := in.f.Read(buf)
				if err != nil {
					break
				}
				collect(n)
			}
			in.f.SetReadDeadline(time.Time{})
			if !post(func() {
				for _, wd := range wds {
					changed(wd)
				}
			}) {
				return
			}
		}
	}()
	return in, nil
}

func (in *inotify) Watch(path string) (int, error) {
	raw, err := in.f.SyscallConn()
	if err != nil {
		return -1, err
	}
	wd := -1
	var werr error
	raw.Control(func(fd uintptr) { wd, werr = unix.InotifyAddWatch(int(fd), path, inotifyMask) })
	return wd, werr
}

func (in *inotify) Unwatch(wd int) {
	raw, err := in.f.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) { unix.InotifyRmWatch(int(fd), uint32(wd)) })
}

func (in *inotify) close() { in.f.Close() }
