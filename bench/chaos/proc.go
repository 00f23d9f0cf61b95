// Package chaos holds what the reliability suite needs to break a running
// master and measure the damage: a load loop that counts failures, a
// worker killer that counts the requests it takes down with each worker,
// hostile clients for every listener, and /proc readings (children,
// zombies, RSS, open fds). bench/cmd/chaos runs it from the shell;
// cmd/supervise's reliability tests use it with small bounds.
package chaos

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Proc is one process as /proc shows it.
type Proc struct {
	PID, PPID int
	State     byte // R, S, D, T, Z ...
}

func readProc(pid int) (Proc, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Proc{}, false
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')') // the command may hold spaces and parens
	if i < 0 || i+2 >= len(s) {
		return Proc{}, false
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 2 {
		return Proc{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return Proc{PID: pid, PPID: ppid, State: f[0][0]}, true
}

// Children lists the processes whose parent is pid, zombies included.
func Children(pid int) []Proc {
	ents, _ := os.ReadDir("/proc")
	var out []Proc
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(n); ok && p.PPID == pid {
			out = append(out, p)
		}
	}
	return out
}

// LiveChildren are the children that are neither zombies nor dead.
func LiveChildren(pid int) []int {
	var out []int
	for _, p := range Children(pid) {
		if p.State != 'Z' && p.State != 'X' {
			out = append(out, p.PID)
		}
	}
	return out
}

// Zombies are the children of pid nobody has reaped.
func Zombies(pid int) []int {
	var out []int
	for _, p := range Children(pid) {
		if p.State == 'Z' {
			out = append(out, p.PID)
		}
	}
	return out
}

// Alive is true for a process that exists and is not a zombie.
func Alive(pid int) bool {
	p, ok := readProc(pid)
	return ok && p.State != 'Z' && p.State != 'X'
}

// FDs counts the open descriptors of pid (-1 if it is gone).
func FDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// statusKB reads a "Key:   N kB" line of /proc/pid/status.
func statusKB(pid int, key string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return -1
}

// RSSKB is the resident set of pid in KiB.
func RSSKB(pid int) int { return statusKB(pid, "VmRSS") }

// PeakRSSKB is the highest resident set since the process started or since
// ResetPeakRSS.
func PeakRSSKB(pid int) int { return statusKB(pid, "VmHWM") }

// ResetPeakRSS starts a new high-water mark (clear_refs 5), so each
// scenario reports its own peak.
func ResetPeakRSS(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// socketInodes are the inodes of the sockets pid holds open.
func socketInodes(pid int) map[uint64]bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(dir)
	out := map[uint64]bool{}
	for _, e := range ents {
		link, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if s, ok := strings.CutPrefix(link, "socket:["); ok {
			if ino, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				out[ino] = true
			}
		}
	}
	return out
}

// AcceptedConns counts the connections pid accepted on the unix socket at
// path and still holds: each is a request in flight (or just answered and
// not yet closed) that dies with the process. Accepted unix sockets carry
// the listener's path in /proc/net/unix with state 03 (connected); the
// listener itself is state 01.
func AcceptedConns(pid int, path string) int {
	mine := socketInodes(pid)
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header: Num RefCount Protocol Flags Type St Inode Path
	n := 0
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 8 || fl[5] != "03" || fl[7] != path {
			continue
		}
		if ino, err := strconv.ParseUint(fl[6], 10, 64); err == nil && mine[ino] {
			n++
		}
	}
	return n
}

// allThreadsStopped is true once every thread of pid is in the stopped
// state (a group stop lands thread by thread); ok is false if pid is gone.
func allThreadsStopped(pid int) (stopped, ok bool) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(ents) == 0 {
		return false, false
	}
	for _, e := range ents {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, e.Name()))
		if err != nil {
			continue // the thread exited
		}
		s := string(raw)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || i+2 >= len(s) {
			continue
		}
		switch s[i+2] {
		case 'T', 't':
		case 'Z', 'X':
			return false, false
		default:
			return false, true
		}
	}
	return true, true
}
