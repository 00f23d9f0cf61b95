package worker

import (
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// socketTimeout is socket-timeout from the master: how long a read of a
// request's head or body, or a write of its response, may wait for the
// client before the connection is closed. Zero means never.
func socketTimeout() time.Duration {
	ms, err := strconv.Atoi(os.Getenv(ipc.EnvSocketTimeoutMS))
	if err != nil || ms < 0 {
		ms = ipc.DefaultSocketTimeoutMS
	}
	return time.Duration(ms) * time.Millisecond
}

// timeoutConn moves the connection's deadline before every read and write,
// so the limit is per operation (uWSGI's socket-timeout), not per request:
// a slow but steady upload or download is not cut.
type timeoutConn struct {
	net.Conn
	d time.Duration
}

func withTimeout(c net.Conn, d time.Duration) net.Conn {
	if d <= 0 {
		return c
	}
	return &timeoutConn{Conn: c, d: d}
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.d))
	return c.Conn.Read(p)
}

func (c *timeoutConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.d))
	return c.Conn.Write(p)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// listenerGone is true for an accept error that means the listening socket
// itself is no more (the app closed its descriptor): no later accept can
// succeed, so the worker must go and let the master replace it.
func listenerGone(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EBADF) ||
		errors.Is(err, syscall.ENOTSOCK) || errors.Is(err, syscall.EINVAL)
}
