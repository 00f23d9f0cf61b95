package socket

import (
	"fmt"
	"net/netip"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
)

// Activated are the sockets systemd (or any socket-activating parent)
// passed to this process: fds 3.. when LISTEN_PID is our pid.
type Activated struct {
	fds   []int
	used  map[int]bool
	owned map[int]bool // ours (passed across an upgrade): vacuum may remove their files
}

// FromEnv takes the sockets described by LISTEN_FDS/LISTEN_PID.
func FromEnv(env ipc.Env) *Activated {
	a := &Activated{used: map[int]bool{}, owned: map[int]bool{}}
	n := env.ListenFDs(os.Getpid())
	for fd := ipc.FirstListenFD; fd < ipc.FirstListenFD+n; fd++ {
		unix.CloseOnExec(fd) // workers get the sockets we choose to pass, not these
		a.fds = append(a.fds, fd)
	}
	return a
}

// Adopt returns the inherited socket bound to addr, if there is one.
func (a *Activated) Adopt(addr, proto string) *Listener {
	want, ok := normalize(addr)
	if !ok {
		return nil
	}
	for _, fd := range a.fds {
		if a.used[fd] {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil || sockaddrString(sa) != want {
			continue
		}
		a.used[fd] = true
		network := "tcp"
		if _, isUnix := sa.(*unix.SockaddrUnix); isUnix {
			network = "unix"
		}
		l := &Listener{Name: addr, Proto: proto, Network: network, File: os.NewFile(uintptr(fd), network+":"+addr)}
		var st unix.Stat_t
		if a.owned[fd] && network == "unix" && !strings.HasPrefix(addr, "@") && unix.Stat(addr, &st) == nil {
			l.path, l.ino = addr, st.Ino // otherwise the file is systemd's: vacuum leaves it
		}
		return l
	}
	return nil
}

// Unused closes the inherited sockets no configured address matched and
// says which they were.
func (a *Activated) Unused() []string {
	var out []string
	for _, fd := range a.fds {
		if a.used[fd] {
			continue
		}
		sa, _ := unix.Getsockname(fd)
		out = append(out, fmt.Sprintf("fd %d (%s)", fd, sockaddrString(sa)))
		unix.Close(fd)
	}
	return out
}

func normalize(addr string) (string, bool) {
	if isUnix(addr) {
		if strings.HasPrefix(addr, "@") {
			return "@" + addr[1:], true
		}
		return addr, true
	}
	sa, _, err := resolveTCP(addr)
	if err != nil {
		return "", false
	}
	return sockaddrString(sa), true
}

func sockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrUnix:
		if strings.HasPrefix(a.Name, "\x00") {
			return "@" + a.Name[1:]
		}
		if a.Name == "" {
			return "@"
		}
		return a.Name
	}
	return "?"
}

// FromFDs takes sockets inherited some other way (the master's in-place
// upgrade passes its own across exec).
func FromFDs(fds []int) *Activated {
	a := &Activated{used: map[int]bool{}, owned: map[int]bool{}}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		a.fds = append(a.fds, fd)
		a.owned[fd] = true
	}
	return a
}

// Merge adds b's sockets to a.
func (a *Activated) Merge(b *Activated) *Activated {
	a.fds = append(a.fds, b.fds...)
	for fd := range b.owned {
		a.owned[fd] = true
	}
	return a
}
