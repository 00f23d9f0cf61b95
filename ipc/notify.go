package ipc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Notification is one datagram a worker sent to the master's notify socket.
type Notification struct {
	PID    int               // the sender, from SO_PASSCRED (not trusted from the payload)
	Fields map[string]string // "READY" -> "1", "STATUS" -> "..."
}

// NotifyListener receives sd_notify-style datagrams from workers.
type NotifyListener struct {
	Path string
	conn *net.UnixConn
}

// ListenNotify creates a unixgram socket at path that learns each sender's
// pid from the kernel, so a worker cannot claim to be another.
func ListenNotify(path string) (*NotifyListener, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, fmt.Errorf("notify socket %s: %w", path, err)
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		conn.Close()
		return nil, err
	}
	var sockErr error
	raw.Control(func(fd uintptr) {
		sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	})
	if sockErr != nil {
		conn.Close()
		return nil, fmt.Errorf("notify socket %s: SO_PASSCRED: %w", path, sockErr)
	}
	return &NotifyListener{Path: path, conn: conn}, nil
}

// Receive blocks for the next datagram. It returns net.ErrClosed after Close.
func (n *NotifyListener) Receive() (Notification, error) {
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		nb, noob, _, _, err := n.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return Notification{}, err
		}
		pid := senderPID(oob[:noob])
		if pid <= 0 {
			continue // no credentials: cannot tell whose it is
		}
		return Notification{PID: pid, Fields: ParseNotify(string(buf[:nb]))}, nil
	}
}

// NoApp is true when the sender serves but loaded no app ("READY=1\nNOAPP=1\n
// STATUS=no app loaded: <reason>"): a Python worker whose import failed
// without need-app. The master counts it as not ready for /readyz.
func (n Notification) NoApp() bool { return n.Fields["NOAPP"] == "1" }

// Close stops Receive.
func (n *NotifyListener) Close() error { return n.conn.Close() }

func senderPID(oob []byte) int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		if cred, err := unix.ParseUnixCredentials(&m); err == nil {
			return int(cred.Pid)
		}
	}
	return 0
}

// ParseNotify splits "READY=1\nSTATUS=ok" into fields.
func ParseNotify(payload string) map[string]string {
	fields := map[string]string{}
	for _, line := range strings.Split(payload, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k != "" {
			fields[k] = v
		}
	}
	return fields
}

// Notify sends state to the socket named by NOTIFY_SOCKET (systemd's
// sd_notify): a worker telling the master, or the master telling systemd.
// Without NOTIFY_SOCKET it does nothing and returns nil.
func Notify(state string) error {
	path := os.Getenv(EnvNotifySocket)
	if path == "" {
		return nil
	}
	return NotifyTo(path, state)
}

// NotifyTo sends state to the notify socket at path ("@x" is abstract).
func NotifyTo(path, state string) error {
	name := path
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify %s: %w", path, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil && !errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("notify %s: %w", path, err)
	}
	return nil
}
