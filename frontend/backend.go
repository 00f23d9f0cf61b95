package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A Backend is one uwsgi server the front end forwards to. The uwsgi
// protocol carries one request per connection, so every request dials.
type Backend struct {
	Name     string // as configured
	network  string // "unix" or "tcp"
	addr     string
	unix     *net.UnixAddr // set for a unix socket
	sockaddr *unix.SockaddrUnix
	// deadUntil is when a backend that refused a connection is tried
	// again (unix nanoseconds; 0: alive).
	deadUntil atomic.Int64
}

// ParseBackend reads a --to address: "unix:/path", "/path" or "x.sock"
// (unix socket), "@name" (abstract unix socket), "host:port" or
// "tcp:host:port".
func ParseBackend(s string) (*Backend, error) {
	b := &Backend{Name: s}
	switch {
	case strings.HasPrefix(s, "unix:"):
		b.network, b.addr = "unix", strings.TrimPrefix(s, "unix:")
	case strings.HasPrefix(s, "tcp:"):
		b.network, b.addr = "tcp", strings.TrimPrefix(s, "tcp:")
	case strings.HasPrefix(s, "@"), strings.Contains(s, "/"), strings.HasSuffix(s, ".sock"):
		b.network, b.addr = "unix", s
	default:
		b.network, b.addr = "tcp", s
	}
	if b.addr == "" {
		return nil, fmt.Errorf("backend %q: empty address (want unix:/path, /path, @name or host:port)", s)
	}
	if b.network == "tcp" {
		if _, _, err := net.SplitHostPort(b.addr); err != nil {
			return nil, fmt.Errorf("backend %q: %w (want unix:/path, /path, @name or host:port)", s, err)
		}
		return b, nil
	}
	name := b.addr
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	b.unix = &net.UnixAddr{Name: name, Net: "unix"}
	b.sockaddr = &unix.SockaddrUnix{Name: name}
	return b, nil
}

// Pool spreads requests over its backends round robin, skipping one that
// refused a connection for DeadFor.
type Pool struct {
	backends       []*Backend
	next           atomic.Uint32
	ConnectTimeout time.Duration
	DeadFor        time.Duration
	// onDead is told (once per transition) that a backend was marked dead.
	onDead func(b *Backend, err error)
}

// NewPool makes a pool; connectTimeout bounds each dial (0: 5 s).
func NewPool(backends []*Backend, connectTimeout time.Duration) *Pool {
	if connectTimeout <= 0 {
		connectTimeout = 5 * time.Second
	}
	return &Pool{backends: backends, ConnectTimeout: connectTimeout, DeadFor: time.Second}
}

// errAllDead is what Dial returns when no backend takes the connection.
var errAllDead = errors.New("no backend accepted the connection")

// Dial connects to the next live backend. A backend that fails is marked
// dead and the next is tried; when all are dead, the ones marked dead are
// tried once more anyway (they may be back), so a pool never refuses to
// try. Nothing has been sent when Dial fails, so retrying is safe for
// every method.
func (p *Pool) Dial(ctx context.Context) (conn, *Backend, error) {
	n := len(p.backends)
	start := int(p.next.Add(1)-1) % n
	now := time.Now().UnixNano()
	var errs []error
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			b := p.backends[(start+i)%n]
			dead := b.deadUntil.Load() > now
			if dead != (pass == 1) {
				continue // first pass: the live ones; second: the dead ones
			}
			c, err := p.dial(ctx, b)
			if err == nil {
				b.deadUntil.Store(0)
				return c, b, nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", b.Name, err))
			if ctx.Err() != nil {
				return nil, nil, errors.Join(errs...)
			}
			if errors.Is(err, syscall.EAGAIN) {
				continue // a full backlog: busy, not dead
			}
			if old := b.deadUntil.Swap(time.Now().Add(p.DeadFor).UnixNano()); old == 0 && p.onDead != nil {
				p.onDead(b, err)
			}
		}
	}
	return nil, nil, fmt.Errorf("%w: %w", errAllDead, errors.Join(errs...))
}

// conn is a backend connection: a *net.TCPConn, or for unix sockets an
// *os.File on the socket (see dialUnix).
type conn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

func (p *Pool) dial(ctx context.Context, b *Backend) (conn, error) {
	if b.unix != nil {
		return dialUnix(b.sockaddr)
	}
	d := net.Dialer{Timeout: p.ConnectTimeout}
	return d.DialContext(ctx, "tcp", b.addr)
}

// dialUnix connects a unix socket with the bare syscalls: the backend
// pays for a connection per request, and net.DialUnix adds a
// getsockname and a getpeername to each for addresses nobody reads.
// A unix connect completes or fails at once (EAGAIN when the backlog is
// full, as nginx sees it): no timeout is needed. The socket stays out of
// Go's poller (see rawConn).
func dialUnix(sa *unix.SockaddrUnix) (conn, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("connect", err)
	}
	return &rawConn{fd: fd}, nil
}

// rawConn is a non-blocking unix socket to a worker that the request and
// the answer's head go through with plain syscalls, waiting in poll(2)
// with the deadline as its timeout: a request costs socket, connect,
// write, poll, read, close. Go's poller would add an fcntl and an
// epoll_ctl to register the socket, a read that fails with EAGAIN before
// parking, and an epoll_ctl to drop it, plus the goroutine park and
// wakeup. The first SetReadDeadline or SetWriteDeadline (a request body
// to send, a response longer than its first read) moves the socket into
// the poller for the rest of the exchange, so a slow stream parks a
// goroutine, not a thread. SetDeadline before that only records the
// deadline.
type rawConn struct {
	mu     sync.Mutex // guards the switch to f and closed against abort
	fd     int
	f      *os.File // set once the socket is in Go's poller
	closed bool
	rd, wd time.Time // deadlines while not in the poller
}

func (c *rawConn) Read(p []byte) (int, error) {
	if c.f != nil {
		return c.f.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if err := c.wait(unix.POLLIN, c.rd); err != nil {
			return 0, err
		}
		n, err := unix.Read(c.fd, p)
		switch {
		case err == unix.EINTR || err == unix.EAGAIN:
			continue
		case err != nil:
			return 0, &os.PathError{Op: "read", Path: "uwsgi", Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

func (c *rawConn) Write(p []byte) (int, error) {
	if c.f != nil {
		return c.f.Write(p)
	}
	written := 0
	for written < len(p) {
		n, err := unix.Write(c.fd, p[written:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if err := c.wait(unix.POLLOUT, c.wd); err != nil {
				return written, err
			}
			continue
		case err != nil:
			return written, &os.PathError{Op: "write", Path: "uwsgi", Err: err}
		}
		written += n
	}
	return written, nil
}

// wait polls the socket for events until deadline: a read or write
// after it does not block.
func (c *rawConn) wait(events int16, deadline time.Time) error {
	for {
		timeout := -1
		if !deadline.IsZero() {
			d := time.Until(deadline)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			timeout = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		fds := [1]unix.PollFd{{Fd: int32(c.fd), Events: events}}
		n, err := unix.Poll(fds[:], timeout)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("poll", err)
		}
		if n == 0 {
			continue // timed out: the deadline check above says so
		}
		return nil // readable, writable, or an error/hangup the read or write reports
	}
}

// poller moves the socket into Go's poller (once).
func (c *rawConn) poller() error {
	if c.f != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return os.ErrClosed
	}
	c.f = os.NewFile(uintptr(c.fd), "uwsgi")
	if !c.rd.IsZero() {
		c.f.SetReadDeadline(c.rd)
	}
	if !c.wd.IsZero() {
		c.f.SetWriteDeadline(c.wd)
	}
	return nil
}

func (c *rawConn) SetDeadline(t time.Time) error {
	if c.f != nil {
		return c.f.SetDeadline(t)
	}
	c.rd, c.wd = t, t
	return nil
}

func (c *rawConn) SetReadDeadline(t time.Time) error {
	if err := c.poller(); err != nil {
		return err
	}
	return c.f.SetReadDeadline(t)
}

func (c *rawConn) SetWriteDeadline(t time.Time) error {
	if err := c.poller(); err != nil {
		return err
	}
	return c.f.SetWriteDeadline(t)
}

// Close closes the socket. Only the goroutine that uses the connection
// calls it; another one stops it with abort.
func (c *rawConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return os.ErrClosed
	}
	c.closed = true
	if c.f != nil {
		return c.f.Close()
	}
	return unix.Close(c.fd)
}

// abort makes the exchange fail from another goroutine (the client went
// away): a shutdown wakes a poll or a blocked write, where a close would
// not, and leaves the descriptor to Close, so it cannot be reused under
// the goroutine still using it.
func (c *rawConn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.f != nil {
		c.f.Close() // the poller wakes whoever waits on it
		return
	}
	unix.Shutdown(c.fd, unix.SHUT_RDWR)
}

// abortConn stops an exchange on c from another goroutine.
func abortConn(c conn) {
	if rc, ok := c.(*rawConn); ok {
		rc.abort()
		return
	}
	c.Close()
}
