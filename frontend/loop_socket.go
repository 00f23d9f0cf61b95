package frontend

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// loopSocket is a non-blocking socket in a loop's epoll set (edge
// triggered): its descriptor, the tag its events carry, and what epoll
// said of it that has not been used up yet. The loop notes readiness
// (dispatch); the connections read and write through it.
type loopSocket struct {
	fd  int   // -1 when none
	gen int32 // the events' Pad: which use of the fd number they are for

	readable, writable bool
	hup                bool // the peer closed its side, or the socket failed
}

func (s *loopSocket) note(events uint32) {
	if events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.readable = true
	}
	if events&(unix.EPOLLOUT|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.writable = true
	}
	if events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		s.hup = true
	}
}

// read reads into p (not empty): 0 and no error when nothing is there
// now (s waits for the next edge), io.EOF when the peer closed.
func (s *loopSocket) read(p []byte) (int, error) {
	for {
		n, err := unix.Read(s.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			s.readable = false
			return 0, nil
		case err != nil:
			return 0, os.NewSyscallError("read", err)
		case n == 0:
			return 0, io.EOF
		}
		if n < len(p) && !s.hup {
			s.readable = false // drained: more data brings another edge
		}
		return n, nil
	}
}

// write writes what the socket takes of p (not empty): 0 and no error
// when it is full (s waits for the next edge).
func (s *loopSocket) write(p []byte) (int, error) {
	return s.written(func() (int, error) { return unix.Write(s.fd, p) }, "write")
}

// writev is write for a and b in one system call.
func (s *loopSocket) writev(a, b []byte) (int, error) {
	return s.written(func() (int, error) { return unix.Writev(s.fd, [][]byte{a, b}) }, "writev")
}

func (s *loopSocket) written(call func() (int, error), op string) (int, error) {
	for {
		n, err := call()
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			s.writable = false
			return 0, nil
		}
		return 0, os.NewSyscallError(op, err)
	}
}
