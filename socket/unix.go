package socket

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func bindUnix(addr, proto string, opt Options) (*Listener, error) {
	l := &Listener{Name: addr, Proto: proto, Network: "unix"}
	sa := &unix.SockaddrUnix{Name: addr}
	if strings.HasPrefix(addr, "@") {
		sa.Name = "\x00" + addr[1:]
	} else {
		l.path = addr
		if err := clearStale(addr); err != nil {
			return nil, err
		}
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", addr, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind unix:%s: %w%s", addr, err, bindHint(err))
	}
	if l.path != "" {
		if err := setOwnership(l, opt); err != nil {
			unix.Close(fd)
			os.Remove(l.path)
			return nil, err
		}
	}
	return listenFD(fd, l, opt.Backlog)
}

// clearStale refuses to take a path a live server answers on, and removes
// a socket file nobody listens on any more (left by a crash without vacuum).
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("socket %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("socket %s: the path exists and is not a socket; remove it or choose another path", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("bind unix:%s: address in use (another server answers there; stop it or pick another path)", path)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		return fmt.Errorf("socket %s: cannot tell whether a server still uses it (%v); remove the file if it is stale", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

func setOwnership(l *Listener, opt Options) error {
	if opt.Mode != 0 {
		if err := os.Chmod(l.path, opt.Mode); err != nil {
			return fmt.Errorf("chmod-socket %s: %w", l.path, err)
		}
	}
	if opt.Owner != "" {
		uid, gid, err := lookupOwner(opt.Owner)
		if err != nil {
			return fmt.Errorf("chown-socket %q: %w", opt.Owner, err)
		}
		if err := os.Lchown(l.path, uid, gid); err != nil {
			return fmt.Errorf("chown-socket %s: %w", l.path, err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(l.path, &st); err != nil {
		return fmt.Errorf("stat %s: %w", l.path, err)
	}
	l.ino = st.Ino
	return nil
}

// lookupOwner resolves "user" or "user:group" (names or numbers); -1 leaves
// a part unchanged.
func lookupOwner(owner string) (uid, gid int, err error) {
	name, group, _ := strings.Cut(owner, ":")
	uid, gid = -1, -1
	if name != "" {
		if uid, err = lookupID(name, func(s string) (string, error) {
			u, err := user.Lookup(s)
			if err != nil {
				return "", err
			}
			return u.Uid, nil
		}); err != nil {
			return -1, -1, err
		}
	}
	if group != "" {
		if gid, err = lookupID(group, func(s string) (string, error) {
			g, err := user.LookupGroup(s)
			if err != nil {
				return "", err
			}
			return g.Gid, nil
		}); err != nil {
			return -1, -1, err
		}
	}
	return uid, gid, nil
}

func lookupID(s string, byName func(string) (string, error)) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	id, err := byName(s)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(id)
}

func bindHint(err error) string {
	switch {
	case errors.Is(err, unix.EADDRINUSE):
		return " (another server answers there; stop it or pick another path)"
	case errors.Is(err, unix.EACCES):
		return " (no permission to create it: check the directory's owner and mode)"
	case errors.Is(err, unix.ENOENT):
		return " (the directory does not exist)"
	}
	return ""
}
