package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// http-processes = N runs N front-end processes on the same sockets
// (uWSGI's router processes). Which process holds a client connection is
// read from /proc: the connection's socket inode in /proc/net/tcp, found
// among a process's descriptors.

// frontEnds is the live front-end processes of m: its children running
// `supervise http`.
func frontEnds(t *testing.T, m *masterProc) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) || parentOf(pid) != m.cmd.Process.Pid {
			continue
		}
		raw, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if args := strings.Split(string(raw), "\x00"); len(args) > 1 && args[1] == "http" {
			pids = append(pids, pid)
		}
	}
	return pids
}

// frontEndNumber is the K of SUPERVISE_FRONTEND_PROCESS in pid's environment.
func frontEndNumber(t *testing.T, pid int) string {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range strings.Split(string(raw), "\x00") {
		if k, ok := strings.CutPrefix(kv, "SUPERVISE_FRONTEND_PROCESS="); ok {
			return k
		}
	}
	t.Fatalf("front end %d: no SUPERVISE_FRONTEND_PROCESS in its environment", pid)
	return ""
}

func stateOf(pid int) byte { s, _ := procState(pid); return s }

func parentOf(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// waitFrontEnds waits until m runs n front ends and none of old.
func waitFrontEnds(t *testing.T, m *masterProc, n int, old ...int) []int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := frontEnds(t, m)
		stale := false
		for _, p := range pids {
			for _, o := range old {
				stale = stale || p == o
			}
		}
		if len(pids) == n && !stale {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("front ends %v (not %v), want %d", pids, old, n)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: no event for another process's start
	}
}

// stopProcs SIGSTOPs pids and waits until they are stopped (no thread of
// theirs is left waiting on a socket); the cleanup lets them go on.
func stopProcs(t *testing.T, pids ...int) func() {
	t.Helper()
	resumed := false
	resume := func() { // once: a later cleanup must not signal reused pids
		if !resumed {
			resumed = true
			for _, p := range pids {
				syscall.Kill(p, syscall.SIGCONT)
			}
		}
	}
	t.Cleanup(resume)
	for _, p := range pids {
		if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); stateOf(p) != 'T'; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("pid %d not stopped (state %c)", p, stateOf(p))
			}
		}
	}
	return resume
}

// owner is the process among pids holding the server side of c.
func owner(t *testing.T, c net.Conn, pids []int) int {
	t.Helper()
	local, remote := c.LocalAddr().(*net.TCPAddr), c.RemoteAddr().(*net.TCPAddr)
	want := fmt.Sprintf(":%04X %s:%04X", remote.Port, "0100007F", local.Port) // server side: local = the front end's port
	inode := ""
	// The server side exists once the handshake's last ACK is processed,
	// which on loopback may come just after connect returns.
	for deadline := time.Now().Add(5 * time.Second); inode == ""; time.Sleep(5 * time.Millisecond) {
		raw, err := os.ReadFile("/proc/net/tcp")
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Fields(line)
			if len(f) > 9 && strings.HasSuffix(f[1]+" "+f[2], want) {
				inode = f[9]
			}
		}
		if inode == "" && time.Now().After(deadline) {
			t.Fatalf("no server side of %v in /proc/net/tcp", local)
		}
	}
	for _, p := range pids {
		dir := fmt.Sprintf("/proc/%d/fd", p)
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if link, _ := os.Readlink(filepath.Join(dir, e.Name())); link == "socket:["+inode+"]" {
				return p
			}
		}
	}
	return 0
}

// keepAlive is one client connection that asks for /pid again and again.
type keepAlive struct {
	net.Conn
	r *bufio.Reader
}

func dialKeepAlive(t *testing.T, addr string) *keepAlive {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &keepAlive{Conn: c, r: bufio.NewReader(c)}
}

// get asks for /pid on the connection: the status, or what went wrong.
func (k *keepAlive) get() string {
	k.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(k, "GET /pid HTTP/1.1\r\nHost: t\r\n\r\n"); err != nil {
		return err.Error()
	}
	resp, err := http.ReadResponse(k.r, nil)
	if err != nil {
		return err.Error()
	}
	var b [64]byte
	resp.Body.Read(b[:])
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// servedBy opens a connection while every front end but p is stopped: p
// alone can accept it. It answers, and p holds it.
func servedBy(t *testing.T, addr string, p int, all []int) *keepAlive {
	t.Helper()
	var others []int
	for _, o := range all {
		if o != p {
			others = append(others, o)
		}
	}
	resume := stopProcs(t, others...)
	defer resume()
	k := dialKeepAlive(t, addr)
	if status := k.get(); status != "200" {
		t.Fatalf("front end %d alone: %s", p, status)
	}
	if got := owner(t, k, all); got != p {
		t.Fatalf("the connection made while only %d ran is held by %d (front ends %v)", p, got, all)
	}
	return k
}

func TestHTTPProcessesAreProcessesThatAllServe(t *testing.T) {
	parallel(t)
	m, _, base := startEchoBehindFrontEnd(t, "--http-processes", "2")
	addr := strings.TrimPrefix(base, "http://")
	pids := waitFrontEnds(t, m, 2)
	held := map[int]*keepAlive{}
	for _, p := range pids {
		held[p] = servedBy(t, addr, p, pids)
	}
	// Each one's log lines say which of the two it is.
	m.waitLog(`\bhttp\.1: listening`, 1)
	m.waitLog(`\bhttp\.2: listening`, 1)

	// One dies: the other keeps its connections and the socket's queue;
	// the master starts another in its place, which serves as well, under
	// the same number.
	dead, survivor := pids[0], pids[1]
	number := frontEndNumber(t, dead)
	if err := syscall.Kill(dead, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if status := held[survivor].get(); status != "200" {
		t.Fatalf("the surviving front end's connection: %s", status)
	}
	if code, _ := get(t, base+"/pid"); code != 200 {
		t.Fatalf("a new connection after a front end died: %d", code)
	}
	pids = waitFrontEnds(t, m, 2, dead)
	if pids[0] != survivor && pids[1] != survivor {
		t.Fatalf("front ends %v: the survivor %d was restarted too", pids, survivor)
	}
	m.waitLog(`\bhttp\.`+number+`: listening`, 2)
	for _, p := range pids {
		servedBy(t, addr, p, pids)
	}

	// A reload that leaves the front end's settings alone keeps both
	// processes and fails no request.
	load := startLoad(base+"/pid", 4)
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
	ok, failed, firstErr := load.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d ok, %d failed across a reload: %v", ok, failed, firstErr)
	}
	if after := frontEnds(t, m); len(after) != 2 || !alive(pids[0]) || !alive(pids[1]) {
		t.Fatalf("front ends %v after a reload, want %v kept", after, pids)
	}
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	waitGone(t, pids, 5*time.Second)
}

// A front end at its descriptor budget stops accepting and the socket's
// queue goes to the other processes: with the open-files limit at 64, a
// front end admits about 20 clients. While the second process is stopped
// the first fills up; the next client waits in the queue, and the second
// takes it when it runs again. The first keeps serving what it holds.
func TestHTTPProcessAtItsFDBudgetLeavesTheQueueToTheOthers(t *testing.T) {
	parallel(t)
	prlimit := requireTool(t, "prlimit", "--version")
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMasterWith(t, dir, func(cmd *exec.Cmd) {
		cmd.Args = append([]string{prlimit, "--nofile=64:64", cmd.Path}, cmd.Args[1:]...)
		cmd.Path = prlimit
	}, "--http", addr, "--http-processes", "2", "--module", "echo", "--processes", "1", "--python-bin", py, "--chdir", dir)
	m.waitLog(`all workers ready`, 1)
	pids := waitFrontEnds(t, m, 2)
	full, other := pids[0], pids[1]
	resume := stopProcs(t, other)

	limit := waitLogChan(m, `open-files limit reached`)
	var held []*keepAlive
	for len(held) < 64 {
		k := dialKeepAlive(t, addr)
		answered := make(chan string, 1)
		go func() { answered <- k.get() }()
		select {
		case status := <-answered:
			if status != "200" {
				t.Fatalf("client %d: %s", len(held)+1, status)
			}
			held = append(held, k)
			continue
		case <-limit:
		}
		// The first front end is full: it found no room for one more
		// client after its last accept. That was this one, or this one
		// waits in the queue until the other front end runs again.
		if owner(t, k, pids) == full {
			if status := <-answered; status != "200" {
				t.Fatalf("client %d: %s", len(held)+1, status)
			}
			held = append(held, k)
			k = dialKeepAlive(t, addr)
			answered = make(chan string, 1)
			go func() { answered <- k.get() }()
		}
		if n := len(held); n < 8 || n > 32 {
			t.Fatalf("the limit was reached after %d clients; want about 20 (64 descriptors)", n)
		}
		if got := owner(t, k, pids); got != 0 {
			t.Fatalf("with one front end full and the other stopped, a new client is held by %d", got)
		}
		resume()
		if status := <-answered; status != "200" {
			t.Fatalf("the client queued while the other front end was stopped: %s", status)
		}
		if got := owner(t, k, pids); got != other {
			t.Fatalf("the queued client is held by %d, want %d (the full front end is %d)", got, other, full)
		}
		break
	}
	for i, k := range held {
		if got := owner(t, k, pids); got != full {
			t.Fatalf("client %d is held by %d, want %d", i+1, got, full)
		}
	}
	if status := held[0].get(); status != "200" {
		t.Fatalf("the full front end's first client: %s", status)
	}
	for i := 0; i < 4; i++ { // and new clients keep coming in, to the other
		k := dialKeepAlive(t, addr)
		if status := k.get(); status != "200" {
			t.Fatalf("a new client with one front end full: %s", status)
		}
		if got := owner(t, k, pids); got != other {
			t.Fatalf("a new client is held by %d, want %d (%d is full)", got, other, full)
		}
	}
}

// waitLogChan is closed when m's log has a line matching re.
func waitLogChan(m *masterProc, re string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for {
			m.mu.Lock()
			found := false
			for _, l := range m.lines {
				found = found || matchString(re, l)
			}
			grew := m.grew
			m.mu.Unlock()
			if found {
				close(done)
				return
			}
			select {
			case <-grew:
			case <-m.done:
				return
			}
		}
	}()
	return done
}

// Every front-end process drops to the workers' user and serves.
func TestHTTPProcessesRunAsTheWorkersUser(t *testing.T) {
	m, _, base := startDroppedFrontEnd(t, "--http-processes", "2")
	pids := waitFrontEnds(t, m, 2)
	for _, p := range pids {
		if uid, gid := procIDs(t, p); uid != "65534" || gid != "65534" {
			t.Fatalf("front end %d runs as %s:%s, want nobody:nogroup", p, uid, gid)
		}
		servedBy(t, strings.TrimPrefix(base, "http://"), p, pids)
	}
}

// A reload that changes http-processes starts or stops only the
// difference: 2 -> 3 keeps the first two, 3 -> 1 keeps the first.
func TestReloadChangesTheNumberOfHTTPProcesses(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ini := filepath.Join(dir, "app.ini")
	conf := func(n int) {
		writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp = %s\nhttp-processes = %d\nmodule = echo\nprocesses = 1\nchdir = %s\n", addr, n, dir))
	}
	conf(2)
	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready`, 1)
	two := waitFrontEnds(t, m, 2)

	conf(3)
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
	three := waitFrontEnds(t, m, 3)
	for _, p := range two {
		if !alive(p) {
			t.Fatalf("front ends %v after 2 -> 3: %d was stopped (was %v)", three, p, two)
		}
	}
	for _, p := range three {
		servedBy(t, addr, p, three)
	}

	conf(1)
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=3`, 1)
	var gone []int
	for _, p := range three {
		if p != two[0] && p != two[1] {
			gone = append(gone, p)
		}
	}
	one := waitFrontEnds(t, m, 1, gone...)
	if one[0] != two[0] && one[0] != two[1] {
		t.Fatalf("front end %d after 3 -> 1, want one of the first two %v kept", one[0], two)
	}
	if code, _ := get(t, "http://"+addr+"/pid"); code != 200 {
		t.Fatalf("after 3 -> 1: %d", code)
	}
}
