package frontend

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// A client connection needs a descriptor, and its request one more for
// the worker's socket. Accepting clients until the open-files limit is
// reached leaves none for the workers, and every request fails (502). So,
// as nginx's worker_connections counts both, the front end admits at most
// half of the descriptors the limit leaves after those open at start (and
// a few spare) as client connections; past that it stops accepting, and
// new clients wait in the kernel's listen queue until a connection closes.

// fdSpare is descriptors kept beyond one per client for the rest: log
// files, a handed-off connection's brief duplicate, static files, DNS.
const fdSpare = 16

// fdBudget counts client connections, of every listener and path. A nil
// one counts nothing.
type fdBudget struct {
	max    int64 // clients at most; 0: no limit worth counting
	open   atomic.Int64
	freed  chan struct{} // a connection closed (capacity 1)
	logged atomic.Int64  // unix nanoseconds of the last "limit reached" line
	log    func(max int64)
}

// newFDBudget reads RLIMIT_NOFILE and the descriptors open now.
func newFDBudget(log func(max int64)) *fdBudget {
	b := &fdBudget{freed: make(chan struct{}, 1), log: log}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<20 {
		return b
	}
	inUse := 0
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		inUse = len(ents)
	}
	b.max = max(1, (int64(lim.Cur)-int64(inUse)-fdSpare)/2)
	return b
}

// take admits one client connection; false: at the limit (logged, at
// most once a minute).
func (b *fdBudget) take() bool {
	if b == nil || b.max == 0 {
		return true
	}
	if b.open.Add(1) <= b.max {
		return true
	}
	b.open.Add(-1)
	now := time.Now().UnixNano()
	if last := b.logged.Load(); now-last > int64(time.Minute) && b.logged.CompareAndSwap(last, now) {
		b.log(b.max)
	}
	return false
}

// release is a client connection's close.
func (b *fdBudget) release() {
	if b == nil || b.max == 0 {
		return
	}
	b.open.Add(-1)
	select {
	case b.freed <- struct{}{}:
	default:
	}
}

// room reports whether take would admit a connection now.
func (b *fdBudget) room() bool { return b == nil || b.max == 0 || b.open.Load() < b.max }

// budgetListener is net/http's own listener, admitting clients within
// the budget: Accept waits while there is no room, leaving them queued
// in the kernel.
type budgetListener struct {
	net.Listener
	b         *fdBudget
	done      chan struct{}
	closeOnce sync.Once
}

func newBudgetListener(ln net.Listener, b *fdBudget) *budgetListener {
	return &budgetListener{Listener: ln, b: b, done: make(chan struct{})}
}

func (l *budgetListener) Accept() (net.Conn, error) {
	for !l.b.take() {
		t := time.NewTimer(loopTick) // another path's close does not signal freed
		select {
		case <-l.b.freed:
		case <-t.C:
		case <-l.done:
			t.Stop()
			return nil, net.ErrClosed
		}
		t.Stop()
	}
	c, err := l.Listener.Accept()
	if err != nil {
		l.b.release()
		return nil, err
	}
	return &budgetConn{Conn: c, b: l.b}, nil
}

func (l *budgetListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// budgetConn gives its place back when closed.
type budgetConn struct {
	net.Conn
	b    *fdBudget
	once sync.Once
}

func (c *budgetConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.b.release)
	return err
}

func (c *budgetConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
