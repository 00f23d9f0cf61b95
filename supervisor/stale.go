package supervisor

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"

	"github.com/supervise-go/supervise/worker/python"
	"golang.org/x/sys/unix"
)

// removeStaleRuntimeDirs deletes the runtime directories of masters that
// were killed (SIGKILL, OOM) and could not clean up: a directory of ours
// under TMPDIR named supervise-* that holds the worker (worker.py) and the
// notify socket, and whose sockets all refuse connections. A directory
// with no socket yet may belong to a master starting now, one whose socket
// answers to a live one, and one without our files to someone else (a
// user's or a bench's supervise-something): all are left alone, and so
// is keep (an upgraded master's predecessor's, which it empties itself).
func removeStaleRuntimeDirs(tmp, keep string) (removed []string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "supervise-*"))
	for _, dir := range dirs {
		var st unix.Stat_t
		if dir == keep {
			continue
		}
		if unix.Lstat(dir, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() {
			continue
		}
		if !isRuntimeDir(dir) {
			continue
		}
		if socketsAllDead(dir) {
			if os.RemoveAll(dir) == nil {
				removed = append(removed, dir)
			}
		}
	}
	return removed
}

// isRuntimeDir reports whether dir has what makeRuntime puts in every
// runtime directory: worker.py and the notify socket.
func isRuntimeDir(dir string) bool {
	worker, err := os.Lstat(filepath.Join(dir, python.FileName))
	if err != nil || !worker.Mode().IsRegular() {
		return false
	}
	notify, err := os.Lstat(filepath.Join(dir, notifySocketName))
	return err == nil && notify.Mode()&os.ModeSocket != 0
}

func socketsAllDead(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	sockets := 0
	for _, e := range entries {
		if e.Type()&os.ModeSocket == 0 {
			continue
		}
		sockets++
		if !refused(filepath.Join(dir, e.Name())) {
			return false
		}
	}
	return sockets > 0
}

// refused reports whether nobody listens on the unix socket at path,
// trying a stream, a datagram and a seqpacket (the signal socket)
// connection.
func refused(path string) bool {
	for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM, unix.SOCK_SEQPACKET} {
		fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return false
		}
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		unix.Close(fd)
		switch {
		case err == nil:
			return false
		case errors.Is(err, syscall.EPROTOTYPE):
			continue // a socket of the other type: try it
		case errors.Is(err, syscall.ECONNREFUSED):
			return true
		default:
			return false
		}
	}
	return false
}
