package frontend

import (
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// workerConn is the worker side of the loop's protocol: the connection
// to the worker that serves a client's request, the uwsgi packet it
// sends and the answer it reads.
type workerConn struct {
	sock       loopSocket // sock.fd is -1 when there is no connection
	backend    *backend
	connecting bool      // a TCP connect under way
	dials      int       // backends tried for this request
	busySince  time.Time // when a full listen queue first refused it
	unsent     []byte    // the request's rest when the worker's socket was full
	sendErr    error
	buf        []byte // the answer as read
	bn         int
	eof        bool
	head       answerHead
	remaining  int64 // body bytes still to come from the worker
}

// dial connects to a worker and sends it what its socket takes of pkt
// (the rest waits in w.unsent); on an error nothing was done.
func (w *workerConn) dial(pool *pool, pkt []byte) error {
	var fd int
	var connecting bool
	b, err := pool.try(nil, func(b *backend) (err error) {
		fd, connecting, err = dialNonblock(b)
		return err
	})
	if err != nil {
		return err
	}
	w.sock.fd, w.backend, w.connecting = fd, b, connecting
	w.dials++
	n := 0
	for n < len(pkt) && !connecting {
		m, err := w.sock.write(pkt[n:])
		if err != nil {
			// The worker may still have answered (it may refuse a
			// request without reading it): read what it said.
			w.sendErr = err
			break
		}
		if m == 0 {
			break
		}
		n += m
	}
	if n < len(pkt) && w.sendErr == nil {
		w.unsent = append(w.unsent[:0], pkt[n:]...) // pkt may be w.unsent: copy moves down
	} else {
		w.unsent = w.unsent[:0]
	}
	return nil
}

// events are the epoll events w's socket waits for.
func (w *workerConn) events() uint32 {
	events := uint32(unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET)
	if len(w.unsent) > 0 {
		events |= unix.EPOLLOUT
	}
	return events
}

// connectError is how a TCP connect ended: nil when it succeeded.
func (w *workerConn) connectError(timedOut bool) error {
	var err error
	if timedOut {
		err = unix.ETIMEDOUT
	} else if soerr, gerr := unix.GetsockoptInt(w.sock.fd, unix.SOL_SOCKET, unix.SO_ERROR); gerr != nil {
		err = gerr
	} else if soerr != 0 {
		err = unix.Errno(soerr)
	}
	if err != nil {
		return os.NewSyscallError("connect", err)
	}
	return nil
}

// sendRest writes the part of the request the worker's socket did not
// take at first.
func (w *workerConn) sendRest() {
	for len(w.unsent) > 0 {
		m, err := w.sock.write(w.unsent)
		if err != nil {
			w.sendErr = err
			w.unsent = w.unsent[:0]
			return
		}
		if m == 0 {
			return
		}
		w.unsent = w.unsent[m:]
	}
}

// readHead reads the answer's head: done when it is complete, or can
// grow no more; plain when the loop can send it on itself (anything else
// goes to net/http, which re-frames answers of unknown length).
func (w *workerConn) readHead(l *loop) (done, plain bool) {
	if w.buf == nil {
		w.buf = l.getBuffer()
	}
	for w.bn < len(w.buf) && !w.eof {
		m, err := w.sock.read(w.buf[w.bn:])
		if err != nil {
			w.eof = true
			break
		}
		w.bn += m
		if !w.sock.readable {
			break
		}
	}
	if w.head.fields == nil {
		w.head.fields = l.spare.spans()
	}
	complete, ok := scanAnswerHead(w.buf[:w.bn], &w.head)
	if !complete && !w.eof && w.bn < len(w.buf) {
		return false, false // more to come
	}
	return true, complete && ok && w.head.contentLength >= 0
}

// readBody reads more of the answer's body into w.buf, no more than
// what remains of it: nothing and no error when the worker has nothing
// to give now.
func (w *workerConn) readBody() ([]byte, error) {
	want := int(min(int64(len(w.buf)), w.remaining))
	m, err := w.sock.read(w.buf[:want])
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	w.remaining -= int64(m)
	return w.buf[:m], err
}

// detach takes the worker's connection out of the loop, with what it
// answered so far, for net/http to go on with; nil when there is none.
func (w *workerConn) detach(l *loop) *pendingAnswer {
	if w.sock.fd < 0 {
		return nil
	}
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, w.sock.fd, nil)
	l.conns[w.sock.fd] = nil
	read := append([]byte(nil), w.buf[:w.bn]...)
	p := &pendingAnswer{conn: os.NewFile(uintptr(w.sock.fd), "uwsgi"), backend: w.backend, read: read, sendErr: w.sendErr}
	w.sock.fd = -1
	return p
}

// close closes the worker's connection (it leaves the epoll set with
// it) and gives its buffer back.
func (w *workerConn) close(l *loop) {
	if w.sock.fd >= 0 {
		unix.Close(w.sock.fd)
		l.conns[w.sock.fd] = nil
	}
	w.sock = loopSocket{fd: -1}
	if w.buf != nil {
		l.putBuffer(w.buf)
		w.buf = nil
	}
	w.bn, w.unsent, w.sendErr = 0, w.unsent[:0], nil
	w.eof, w.connecting = false, false
}

// dialNonblock starts connecting a non-blocking socket to b. A unix
// connect completes or fails at once (EAGAIN: the backlog is full); a
// TCP one is usually still under way (connecting).
func dialNonblock(b *backend) (fd int, connecting bool, err error) {
	family, sa := unix.AF_UNIX, unix.Sockaddr(nil)
	switch a := b.inet.(type) { // copies: Connect writes into its argument
	case *unix.SockaddrInet4:
		c := *a
		family, sa = unix.AF_INET, &c
	case *unix.SockaddrInet6:
		c := *a
		family, sa = unix.AF_INET6, &c
	default:
		c := *b.sockaddr
		sa = &c
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
	if family != unix.AF_UNIX {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	if err == unix.EINPROGRESS {
		return fd, true, nil
	}
	if err != nil {
		unix.Close(fd)
		return -1, false, os.NewSyscallError("connect", err)
	}
	return fd, false, nil
}
