package socket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Queue reads the socket's accept queue from the kernel: connections
// waiting for a worker, and the queue's limit (the backlog). For TCP it
// uses TCP_INFO; for unix sockets the sock_diag netlink interface.
func (l *Listener) Queue() (queue, max int, err error) {
	raw, err := l.File.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var fd int
	raw.Control(func(f uintptr) { fd = int(f) })
	if l.Network == "tcp" {
		info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
		if err != nil {
			return 0, 0, fmt.Errorf("TCP_INFO %s: %w", l.Name, err)
		}
		// For a listening socket the kernel reports the accept queue in
		// unacked and the backlog in sacked.
		return int(info.Unacked), int(info.Sacked), nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, err
	}
	return unixQueue(uint32(st.Ino))
}

const (
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	udiagShowRQLen   = 0x10
	unixDiagRQLen    = 4
	tcpListen        = 10
)

// unixQueue asks sock_diag for every listening unix socket's queue and
// picks ours by inode.
func unixQueue(ino uint32) (int, int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, 0, fmt.Errorf("sock_diag: %w", err)
	}
	defer unix.Close(fd)
	req := make([]byte, 16+24)
	le := binary.LittleEndian
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], sockDiagByFamily)
	le.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	req[16] = unix.AF_UNIX
	le.PutUint32(req[20:], 1<<tcpListen)
	le.PutUint32(req[28:], udiagShowRQLen)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, 0, fmt.Errorf("sock_diag: %w", err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return 0, 0, fmt.Errorf("sock_diag: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, 0, fmt.Errorf("sock_diag: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_DONE || m.Header.Type == unix.NLMSG_ERROR {
				return 0, 0, errors.New("sock_diag: socket not found")
			}
			if q, max, ok := parseUnixDiag(m.Data, ino); ok {
				return q, max, nil
			}
		}
	}
}

func parseUnixDiag(data []byte, ino uint32) (int, int, bool) {
	if len(data) < 16 || binary.LittleEndian.Uint32(data[4:]) != ino {
		return 0, 0, false
	}
	attrs := data[16:]
	for len(attrs) >= 4 {
		alen := int(binary.LittleEndian.Uint16(attrs[0:]))
		atype := binary.LittleEndian.Uint16(attrs[2:])
		if alen < 4 || alen > len(attrs) {
			break
		}
		if atype == unixDiagRQLen && alen >= 12 {
			return int(binary.LittleEndian.Uint32(attrs[4:])), int(binary.LittleEndian.Uint32(attrs[8:])), true
		}
		attrs = attrs[(alen+3)&^3:]
	}
	return 0, 0, false
}
