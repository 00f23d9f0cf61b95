// Package socket binds the listening sockets the master owns for its whole
// life and hands to every worker: unix paths, abstract names, TCP over IPv4
// and IPv6. Sockets are bound with raw syscalls so the listen backlog is the
// configured one (net.Listen always uses somaxconn).
package socket

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Listener is one bound, listening socket.
type Listener struct {
	Name    string   // the address as configured
	Proto   string   // "uwsgi" or "http": what the workers speak on it
	Network string   // "unix" or "tcp"
	File    *os.File // the listening socket; the master keeps it open
	path    string   // the unix socket file to vacuum, "" for TCP/abstract
	ino     uint64   // inode of that file when we bound it
}

// Options are the per-socket settings from the config.
type Options struct {
	Backlog int         // listen; checked against net.core.somaxconn
	Mode    os.FileMode // chmod-socket, 0 = as created
	Owner   string      // chown-socket: "user" or "user:group"
}

// Bind creates a listening socket for addr. Unix paths contain a '/' or
// end in ".sock"; "@name" is a Linux abstract socket; anything else is
// host:port.
func Bind(addr, proto string, opt Options) (*Listener, error) {
	if err := checkBacklog(opt.Backlog); err != nil {
		return nil, err
	}
	if isUnix(addr) {
		return bindUnix(addr, proto, opt)
	}
	return bindTCP(addr, proto, opt)
}

func isUnix(addr string) bool {
	return strings.HasPrefix(addr, "@") || strings.Contains(addr, "/") || strings.HasSuffix(addr, ".sock")
}

// Close closes the socket; with vacuum it also removes its file, but only
// if the file is still the one we created (another server may own it now).
func (l *Listener) Close(vacuum bool) error {
	err := l.File.Close()
	if vacuum && l.path != "" {
		var st unix.Stat_t
		if unix.Stat(l.path, &st) == nil && st.Ino == l.ino {
			if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
				err = errors.Join(err, rmErr)
			}
		}
	}
	return err
}

// listenFD turns a bound socket fd into a listening Listener.
func listenFD(fd int, l *Listener, backlog int) (*Listener, error) {
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("listen on %s: %w", l.Name, err)
	}
	l.File = os.NewFile(uintptr(fd), l.Network+":"+l.Name)
	return l, nil
}

// SomaxconnPath is read to check the backlog; a variable for tests.
var SomaxconnPath = "/proc/sys/net/core/somaxconn"

func checkBacklog(backlog int) error {
	raw, err := os.ReadFile(SomaxconnPath)
	if err != nil {
		return nil // not Linux /proc: let listen(2) clamp it
	}
	var max int
	if _, err := fmt.Sscan(string(raw), &max); err != nil || backlog <= max {
		return nil
	}
	return fmt.Errorf("listen queue size %d is greater than net.core.somaxconn (%d): lower the listen option or raise the limit with `sysctl -w net.core.somaxconn=%d`", backlog, max, backlog)
}

// Addr is the bound address: for TCP the real port when ":0" was asked.
func (l *Listener) Addr() string {
	raw, err := l.File.SyscallConn()
	if err != nil {
		return l.Name
	}
	var sa unix.Sockaddr
	raw.Control(func(fd uintptr) { sa, _ = unix.Getsockname(int(fd)) })
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return l.Name
}
