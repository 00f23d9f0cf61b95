package frontend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A backend is one uwsgi server the front end forwards to. The uwsgi
// protocol carries one request per connection, so every request dials.
type backend struct {
	Name     string // as configured
	network  string // "unix" or "tcp"
	addr     string
	unix     *net.UnixAddr // set for a unix socket
	sockaddr *unix.SockaddrUnix
	inet     unix.Sockaddr // set for a TCP address that is an IP literal
	// deadUntil is when a backend that refused a connection is tried
	// again (unix nanoseconds; 0: alive).
	deadUntil atomic.Int64
}

// parseBackend reads a --to address: "unix:/path", "/path" or "x.sock"
// (unix socket), "@name" (abstract unix socket), "host:port" or
// "tcp:host:port".
func parseBackend(s string) (*backend, error) {
	b := &backend{Name: s}
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
		if ap, err := netip.ParseAddrPort(b.addr); err == nil {
			b.inet = sockaddrInet(ap)
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

func sockaddrInet(ap netip.AddrPort) unix.Sockaddr {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	}
	sa := &unix.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	if z := a.Zone(); z != "" {
		if ifc, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifc.Index)
		}
	}
	return sa
}

// pool spreads requests over its backends round robin, skipping one that
// refused a connection for deadFor.
type pool struct {
	backends       []*backend
	next           atomic.Uint32
	connectTimeout time.Duration
	deadFor        time.Duration
	// onDead is told (once per transition) that a backend was marked dead.
	onDead func(b *backend, err error)
}

// newPool makes a pool; connectTimeout bounds each dial (0: 5 s).
func newPool(backends []*backend, connectTimeout time.Duration) *pool {
	if connectTimeout <= 0 {
		connectTimeout = 5 * time.Second
	}
	return &pool{backends: backends, connectTimeout: connectTimeout, deadFor: time.Second}
}

// markDead skips b for deadFor.
func (p *pool) markDead(b *backend, err error) {
	if old := b.deadUntil.Swap(time.Now().Add(p.deadFor).UnixNano()); old == 0 && p.onDead != nil {
		p.onDead(b, err)
	}
}

// loopable reports whether the event loop can connect every backend:
// unix sockets and TCP addresses given as IP literals (a host name would
// need a resolver in the loop; net/http serves those).
func (p *pool) loopable() bool {
	for _, b := range p.backends {
		if b.sockaddr == nil && b.inet == nil {
			return false
		}
	}
	return true
}

// errAllDead is what connect returns when no backend takes the connection.
var errAllDead = errors.New("no backend accepted the connection")

// errAllBusy is errAllDead when every backend refused only because its
// listen queue was full (EAGAIN): worth waiting for, not dead.
var errAllBusy = errors.New("every backend's listen queue is full")

// connect connects to the next live backend. A backend that fails is marked
// dead and the next is tried; when all are dead, the ones marked dead are
// tried once more anyway (they may be back), so a pool never refuses to
// try. Nothing has been sent when connect fails, so retrying is safe for
// every method.
//
// When every backend's listen queue is full, connect waits for room (as
// uWSGI's router does; nginx answers 502 at once), retrying with backoff
// for up to ConnectTimeout.
func (p *pool) connect(ctx context.Context) (conn, *backend, error) {
	var c conn
	var giveUp time.Time
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		b, err := p.try(ctx, func(b *backend) (err error) {
			c, err = p.dial(ctx, b)
			return err
		})
		if err == nil || !errors.Is(err, errAllBusy) {
			return c, b, err
		}
		if giveUp.IsZero() {
			giveUp = time.Now().Add(p.connectTimeout)
		}
		if time.Now().Add(wait).After(giveUp) {
			return nil, nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil, err
		case <-t.C:
		}
	}
}

// try calls dial on each backend in connect's order until one succeeds,
// marking the ones that fail dead. ctx may be nil (the event loop's
// dials do not block).
func (p *pool) try(ctx context.Context, dial func(*backend) error) (*backend, error) {
	n := len(p.backends)
	start := int(p.next.Add(1)-1) % n
	now := time.Now().UnixNano()
	var errs []error
	busy := 0
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			b := p.backends[(start+i)%n]
			dead := b.deadUntil.Load() > now
			if dead != (pass == 1) {
				continue // first pass: the live ones; second: the dead ones
			}
			err := dial(b)
			if err == nil {
				if b.deadUntil.Load() != 0 {
					b.deadUntil.Store(0) // alive again; a store per request would bounce the cache line
				}
				return b, nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", b.Name, err))
			if ctx != nil && ctx.Err() != nil {
				return nil, errors.Join(errs...)
			}
			if errors.Is(err, syscall.EAGAIN) {
				busy++
				continue // a full backlog: busy, not dead
			}
			p.markDead(b, err)
		}
	}
	if busy == len(errs) {
		return nil, fmt.Errorf("%w: %w", errAllBusy, errors.Join(errs...))
	}
	return nil, fmt.Errorf("%w: %w", errAllDead, errors.Join(errs...))
}

// conn is a backend connection: a *net.TCPConn, or for unix sockets an
// *os.File on the socket (see dialUnix).
type conn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

func (p *pool) dial(ctx context.Context, b *backend) (conn, error) {
	if b.unix != nil {
		sa := *b.sockaddr // unix.Connect writes into it: one per call
		return dialUnix(&sa)
	}
	d := net.Dialer{Timeout: p.connectTimeout}
	return d.DialContext(ctx, "tcp", b.addr)
}

// dialUnix connects a unix socket with the bare syscalls: the backend
// pays for a connection per request, and net.DialUnix adds a
// getsockname and a getpeername to each for addresses nobody reads.
// A unix connect completes or fails at once (EAGAIN when the backlog is
// full, as nginx sees it): no timeout is needed. The *os.File is in Go's
// poller (the socket is non-blocking), so deadlines work.
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
	return os.NewFile(uintptr(fd), "uwsgi"), nil
}
