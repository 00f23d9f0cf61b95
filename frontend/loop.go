package frontend

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/uwsgi"
)

// The event loop is the plain-HTTP fast path: one goroutine waits in
// epoll_wait on the listener, the clients and their workers' sockets, as
// an nginx worker does. A request costs a read, a socket, a connect, a
// write and an epoll_ctl for the worker, a read and a close, and one
// write to the client: no goroutine wake-ups, no timers, none of
// net/http's per-request machinery, which together cost more CPU than
// the forwarding itself (bench/front.sh). What the loop does not serve
// it hands to net/http (handoff.go).

const (
	loopInBuffer   = 4 << 10  // a client connection's first read buffer
	loopMaxRequest = 64 << 10 // a request (head and body) larger than this goes to net/http
	loopOutBuffer  = 32 << 10 // an exchange's buffer for the worker's answer
	loopTick       = 50 * time.Millisecond
	loopRetry      = 2 * time.Millisecond // connecting again to a full listen queue
)

// Pad in an epoll event tells which of a connection's sockets it is for
// and which use of that fd number: an fd closed and reused within one
// batch of events must not receive its predecessor's.
const (
	kindClient = 1 << 30
	kindWake   = -1
	kindListen = -2
)

type loop struct {
	s        *Server
	epfd     int
	lnfd     int
	lnEvents uint32
	wakefd   int
	ln       net.Listener
	conns    []*clientConn // by fd: a client's socket and its worker's
	live     int           // client connections
	gen      int32
	now      time.Time
	nextScan time.Time
	date     []byte
	dateSec  int64

	acceptPaused bool
	yielded      time.Time
	stopping     atomic.Bool // Shutdown: finish what is started, take nothing new
	killing      atomic.Bool // Shutdown's context ended: close everything
	drained      bool
	done         chan struct{}

	vars      []uwsgi.Var
	pkt       []byte
	free      [][]byte      // answer buffers
	spare     idleSpares    // what idle connections gave back (loop_idlemem.go)
	queued    []*clientConn // waiting for room in a listen queue, oldest first
	nextRetry time.Time
}

// newLoop serves ln's socket (a duplicate of it). Only TCP listeners are
// served by loops. shared: other loops accept on it too, and a new
// connection wakes one of them (EPOLLEXCLUSIVE), not all.
func newLoop(s *Server, ln net.Listener, shared bool) (*loop, error) {
	tl, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, fmt.Errorf("%T is not a TCP listener", ln)
	}
	f, err := tl.File()
	if err != nil {
		return nil, err
	}
	lnfd := int(f.Fd())
	// The loop owns the duplicate: f must not close it when collected.
	lnfd, err = unix.Dup(lnfd)
	f.Close()
	if err != nil {
		return nil, os.NewSyscallError("dup", err)
	}
	l := &loop{s: s, lnfd: lnfd, ln: ln, epfd: -1, wakefd: -1, done: make(chan struct{})}
	fail := func(op string, err error) (*loop, error) {
		l.closeFDs()
		return nil, os.NewSyscallError(op, err)
	}
	if err := unix.SetNonblock(lnfd, true); err != nil {
		return fail("setnonblock", err)
	}
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fail("epoll_create1", err)
	}
	if l.wakefd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fail("eventfd", err)
	}
	if err := l.watch(l.wakefd, unix.EPOLLIN, kindWake); err != nil {
		return fail("epoll_ctl", err)
	}
	l.lnEvents = unix.EPOLLIN
	if shared {
		l.lnEvents |= unix.EPOLLEXCLUSIVE
	}
	if err := l.watch(lnfd, l.lnEvents, kindListen); err != nil {
		return fail("epoll_ctl", err)
	}
	return l, nil
}

func (l *loop) closeFDs() {
	for _, fd := range []int{l.lnfd, l.wakefd, l.epfd} {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (l *loop) watch(fd int, events uint32, pad int32) error {
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd), Pad: pad})
}

// wake makes the loop look at its stop flags.
func (l *loop) wake() {
	var one = [8]byte{1}
	unix.Write(l.wakefd, one[:])
}

// run serves until Shutdown has let every connection finish (or killed
// them).
func (l *loop) run() {
	defer close(l.done)
	defer l.closeFDs()
	events := make([]unix.EpollEvent, 256)
	l.now = time.Now()
	l.nextScan = l.now.Add(loopTick)
	for {
		next := l.nextScan
		if len(l.queued) > 0 && l.nextRetry.Before(next) {
			next = l.nextRetry
		}
		wait := int(next.Sub(l.now)/time.Millisecond) + 1
		n, err := unix.EpollWait(l.epfd, events, wait)
		if err != nil && err != unix.EINTR {
			l.s.log.Error("event loop: epoll_wait failed; closing its connections", "error", err)
			l.closeAll()
			return
		}
		l.now = time.Now()
		if l.now.Sub(l.yielded) > 5*time.Millisecond {
			// A goroutine that never yields is preempted by sysmon
			// every 10 ms; when that finds it in a syscall, sysmon takes
			// its P and then wakes every 20 us for a while: 7% of the
			// front end's CPU under load, gone with a yield every 5 ms.
			runtime.Gosched()
			l.yielded = l.now
		}
		for _, ev := range events[:max(n, 0)] {
			l.dispatch(ev)
		}
		if len(l.queued) > 0 {
			l.retryQueued()
		}
		if !l.now.Before(l.nextScan) {
			l.expire()
			l.nextScan = l.now.Add(loopTick)
			l.resumeAccept()
		}
		if l.killing.Load() {
			l.closeAll()
			return
		}
		if l.stopping.Load() && !l.drained {
			l.drain()
		}
		if l.drained && l.live == 0 {
			return
		}
	}
}

func (l *loop) dispatch(ev unix.EpollEvent) {
	fd := int(ev.Fd)
	switch ev.Pad {
	case kindWake:
		var b [8]byte
		unix.Read(l.wakefd, b[:])
		return
	case kindListen:
		l.accept()
		return
	}
	if fd >= len(l.conns) {
		return
	}
	c := l.conns[fd]
	if c == nil {
		return
	}
	if ev.Pad == c.sock.gen|kindClient && fd == c.sock.fd {
		c.sock.note(ev.Events)
	} else if ev.Pad == c.worker.sock.gen && fd == c.worker.sock.fd {
		c.worker.sock.note(ev.Events)
	} else {
		return // an earlier socket with this number
	}
	c.drive()
}

// accept takes the connections waiting on the listener.
func (l *loop) accept() {
	for i := 0; i < 64; i++ {
		if !l.s.fds.take() {
			// No descriptor to spare for another client and its
			// worker: leave the rest in the listen queue until a
			// connection closes (clientConn.close, or the tick for one
			// another loop or net/http closed).
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnfd, nil)
			l.acceptPaused = true
			return
		}
		fd, sa, err := unix.Accept4(l.lnfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
		if err != nil {
			l.s.fds.release()
		}
		switch err {
		case nil:
		case unix.ECONNABORTED, unix.EINTR:
			continue
		case unix.EAGAIN:
			return
		default:
			// Out of descriptors or memory: the listener stays ready, so
			// stop watching it for a tick instead of spinning on it.
			l.s.warn("accept", "accept failed; pausing accepts for 50ms (raise the open-files limit?)",
				"error", os.NewSyscallError("accept4", err))
			unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnfd, nil)
			l.acceptPaused = true
			return
		}
		if l.stopping.Load() {
			unix.Close(fd)
			l.s.fds.release()
			continue
		}
		l.open(fd, sa)
	}
}

// open makes an accepted socket a client connection of the loop.
func (l *loop) open(fd int, sa unix.Sockaddr) {
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) // as net/http's connections
	// Its read buffer comes with its first bytes (readRequest).
	c := &clientConn{l: l, sock: loopSocket{fd: fd}, worker: workerConn{sock: loopSocket{fd: -1}}}
	c.info.RemoteAddr, c.info.RemotePort = sockaddrString(sa)
	if local, err := unix.Getsockname(fd); err == nil {
		c.info.ServerAddr, c.info.ServerPort = sockaddrString(local)
	}
	l.gen = (l.gen + 1) &^ kindClient
	c.sock.gen = l.gen
	if err := l.watch(fd, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLRDHUP|unix.EPOLLET, c.sock.gen|kindClient); err != nil {
		unix.Close(fd)
		l.s.fds.release()
		l.s.warn("accept", "epoll_ctl failed", "error", err)
		return
	}
	l.track(fd, c)
	l.live++
	c.deadline = l.now.Add(l.s.cfg.HeaderTimeout)
}

// resumeAccept watches the listener again after a pause, when there is
// room for a client.
func (l *loop) resumeAccept() {
	if l.acceptPaused && !l.drained && l.s.fds.room() {
		l.acceptPaused = false
		l.watch(l.lnfd, l.lnEvents, kindListen)
	}
}

func (l *loop) track(fd int, c *clientConn) {
	for fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*clientConn, len(l.conns)+64)...)
	}
	l.conns[fd] = c
}

// sockaddrString is an address as splitAddr writes a net.Addr.
func sockaddrString(sa unix.Sockaddr) (host, port string) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr).String(), strconv.Itoa(a.Port)
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(a.Addr).Unmap()
		if a.ZoneId != 0 && ip.Is6() {
			if ifc, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				ip = ip.WithZone(ifc.Name)
			}
		}
		return ip.String(), strconv.Itoa(a.Port)
	}
	return "", ""
}

// expire ends what waited past its deadline.
func (l *loop) expire() {
	for fd, c := range l.conns {
		if c == nil || c.sock.fd != fd || c.deadline.After(l.now) {
			continue
		}
		c.timeout()
	}
}

// drain starts a graceful stop: no more accepting, idle connections
// closed, busy ones closed when their answer is out.
func (l *loop) drain() {
	l.drained = true
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, l.lnfd, nil)
	unix.Close(l.lnfd)
	l.lnfd = -1
	for fd, c := range l.conns {
		if c != nil && c.sock.fd == fd && c.state == stRead && c.n == 0 {
			c.close()
		}
	}
}

func (l *loop) closeAll() {
	for fd, c := range l.conns {
		if c != nil && c.sock.fd == fd {
			c.close()
		}
	}
}

// dateHeader is "Date: ...\r\n" for now, made once a second.
func (l *loop) dateHeader() []byte {
	if sec := l.now.Unix(); sec != l.dateSec || l.date == nil {
		l.dateSec = sec
		l.date = append(append(append(l.date[:0], "Date: "...), l.now.UTC().Format(http.TimeFormat)...), "\r\n"...)
	}
	return l.date
}

func (l *loop) getBuffer() []byte {
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b
	}
	return make([]byte, loopOutBuffer)
}

func (l *loop) putBuffer(b []byte) {
	if len(l.free) < 256 {
		l.free = append(l.free, b)
	}
}
