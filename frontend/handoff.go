package frontend

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
)

// The event loop (loop.go) serves the plain requests; everything else
// (bodies it does not buffer, static files, HEAD, requests or answers out
// of the ordinary) goes to net/http, which then owns the connection: the
// loop gives it the socket and the bytes it has read, and net/http parses
// them as if it had read them itself. So there is one implementation of
// every rare case, and both paths answer alike.

// handoffListener is the net.Listener net/http serves handed-off
// connections from.
type handoffListener struct {
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
	addr      net.Addr
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{conns: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.closeOnce.Do(func() { close(h.done) })
	return nil
}

func (h *handoffListener) Addr() net.Addr { return h.addr }

// give passes c to net/http; false when it is shutting down (c is closed).
func (h *handoffListener) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.done:
		c.Close()
		return false
	}
}

// handoffConn is a client connection the loop started: Read returns the
// bytes the loop already read before reading the socket again.
type handoffConn struct {
	net.Conn
	replay []byte
	info   *connInfo
	// pending is a worker already holding the connection's first request
	// (the loop sent it and did not like the answer's head); forward
	// takes it instead of dialing.
	mu      sync.Mutex
	pending *pendingAnswer
	guard   framingGuard // see nethttp_framing.go
	closed  sync.Once
	release func() // the connection's place in the descriptor budget
}

func (h *handoffConn) Close() error {
	err := h.Conn.Close()
	h.closed.Do(h.release)
	return err
}

func (h *handoffConn) Read(p []byte) (int, error) { return h.guard.read(h.rawRead, p) }

// rawRead is Read before the framing guard.
func (h *handoffConn) rawRead(p []byte) (int, error) {
	if len(h.replay) > 0 {
		n := copy(p, h.replay)
		h.replay = h.replay[n:]
		return n, nil
	}
	return h.Conn.Read(p)
}

// CloseWrite lets net/http half-close before closing, as it does on its
// own connections, so an error answer is not lost to a reset.
func (h *handoffConn) CloseWrite() error {
	if cw, ok := h.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// pendingAnswer is a backend connection whose request was sent by the
// loop: read is what the loop already read of the answer.
type pendingAnswer struct {
	conn    conn
	backend *backend
	read    []byte
	sendErr error
}

// Read returns the bytes the loop read, then the connection's.
func (p *pendingAnswer) Read(b []byte) (int, error) {
	if len(p.read) > 0 {
		n := copy(b, p.read)
		p.read = p.read[n:]
		return n, nil
	}
	return p.conn.Read(b)
}

type handoffKey struct{}

// takePending returns the answer the loop left for r's connection, once.
func takePending(ctx context.Context) *pendingAnswer {
	h, _ := ctx.Value(handoffKey{}).(*handoffConn)
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pending
	h.pending = nil
	return p
}

// fileConn turns a socket the loop owned into a net.Conn in Go's poller.
// fd is closed when it returns (the net.Conn has a copy): closing it again
// would close whatever descriptor another thread got with its number.
func fileConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "client")
	defer f.Close() // FileConn has its own copy
	return net.FileConn(f)
}

// errHandoffClosed is why a handoff failed during shutdown.
var errHandoffClosed = errors.New("front end shutting down")

// handOff gives the client socket fd, with the bytes read from it, and
// maybe a worker holding its request, to net/http. fd is no longer the
// loop's afterwards, whatever happens, nor its place in the descriptor
// budget.
func (s *Server) handOff(fd int, replay []byte, info connInfo, pending *pendingAnswer) error {
	nc, err := fileConn(fd) // closes fd, whatever happens
	if err != nil {
		s.fds.release()
		if pending != nil {
			pending.conn.Close()
		}
		return err
	}
	hc := &handoffConn{Conn: nc, replay: replay, info: &info, pending: pending, release: s.fds.release}
	s.initGuard(&hc.guard)
	if !s.handoff.give(hc) { // hc is closed
		if pending != nil {
			pending.conn.Close()
		}
		return errHandoffClosed
	}
	return nil
}
