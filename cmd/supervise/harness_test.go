package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/supervisor"
)

// The test binary doubles as the supervise binary: with SUPERVISE_TEST_MAIN
// set it runs main's code instead of the tests, so process-level tests
// start a real master without building anything else.
const envRunMain = "SUPERVISE_TEST_MAIN"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == supervisor.TrampolineArg {
		os.Exit(supervisor.Trampoline(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "http" { // the front end, run by a master under test
		os.Exit(run(os.Args[1:], os.Environ(), os.Stderr))
	}
	if helper := os.Getenv(envHelper); helper != "" {
		os.Exit(runHelper(helper))
	}
	if os.Getenv(envRunMain) == "1" {
		os.Exit(run(os.Args[1:], os.Environ(), os.Stderr))
	}
	os.Exit(m.Run())
}

// requireTool finds a program the tests need. Where CI promised it
// (SUPERVISE_TEST_REQUIRE=1), its absence fails the test instead of skipping.
// processTest skips a test that starts processes (a master, a helper, a
// real server) under -short, the fast inner loop; scripts/test and CI
// run without -short, so every one of them still runs there.
func processTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes: skipped under -short (scripts/test runs it)")
	}
}

// parallel marks a process-level test that may run beside others: it
// starts its own processes on free ports and temp dirs, and asserts no
// timing that another test's load could break. Most of their time is
// spent waiting on processes, so two at once (go test's default on two
// cores) take little more wall time than one.
func parallel(t *testing.T) {
	t.Helper()
	processTest(t)
	t.Parallel()
}

func requireTool(t *testing.T, path string, check ...string) string {
	t.Helper()
	processTest(t) // every tool is for a process-level test
	p, err := exec.LookPath(path)
	if err == nil && len(check) > 0 {
		err = exec.Command(p, check...).Run()
	}
	if err != nil {
		msg := fmt.Sprintf("%s %v unavailable (%v); .ci/run installs it", path, check, err)
		if os.Getenv("SUPERVISE_TEST_REQUIRE") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// debianPython is the interpreter with Flask (python3-flask); python3 on
// PATH may be another build.
func debianPython(t *testing.T) string {
	return requireTool(t, "/usr/bin/python3", "-c", "import flask")
}

// masterProc is a running master with its log captured line by line.
type masterProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []string
	grew  chan struct{} // closed and replaced on every new line
	done  chan struct{}
	code  int
}

func startMaster(t *testing.T, dir string, args ...string) *masterProc {
	t.Helper()
	return startMasterWith(t, dir, nil, args...)
}

// startMasterWith lets a test add environment or inherited files.
func startMasterWith(t *testing.T, dir string, setup func(*exec.Cmd), args ...string) *masterProc {
	processTest(t)
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	if setup != nil {
		setup(cmd)
	}
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	p := &masterProc{t: t, cmd: cmd, grew: make(chan struct{}), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go p.collect(out)
	t.Cleanup(func() {
		if p.running() {
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("master log:\n%s", p.log())
		}
	})
	return p
}

func (p *masterProc) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.grew)
		p.grew = make(chan struct{})
		p.mu.Unlock()
	}
	err := p.cmd.Wait()
	p.code = p.cmd.ProcessState.ExitCode()
	_ = err
	close(p.done)
}

func (p *masterProc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *masterProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// waitLog waits until the log has at least n lines matching re (counting
// from the start) and returns them. The timeout only bounds a failure.
func (p *masterProc) waitLog(re string, n int) []string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(60 * time.Second)
	for {
		p.mu.Lock()
		var got []string
		for _, l := range p.lines {
			if rx.MatchString(l) {
				got = append(got, l)
			}
		}
		grew := p.grew
		p.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-grew:
		case <-p.done:
			p.mu.Lock()
			finished := len(p.lines)
			p.mu.Unlock()
			_ = finished
			// the last lines may still be in flight: one final look
			select {
			case <-grew:
				continue
			default:
			}
			p.t.Fatalf("master exited (code %d) before logging %d lines matching %q", p.code, n, re)
		case <-deadline:
			p.t.Fatalf("timed out waiting for %d log lines matching %q", n, re)
		}
	}
}

// waitExit waits for the master to exit and returns its exit code.
func (p *masterProc) waitExit() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(90 * time.Second):
		p.t.Fatal("master did not exit")
		return -1
	}
}

func (p *masterProc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

var pidField = regexp.MustCompile(`pid=(\d+)`)

// workerPids returns the pids of the workers the master says it spawned
// and that are still alive.
func (p *masterProc) workerPids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	for _, l := range p.lines {
		if strings.Contains(l, "spawned worker") {
			if m := pidField.FindStringSubmatch(l); m != nil {
				pid, _ := strconv.Atoi(m[1])
				if alive(pid) {
					pids = append(pids, pid)
				}
			}
		}
	}
	return pids
}

// spawnedIn is the pids of the workers spawned for generation gen (0:
// all), alive or not.
func (p *masterProc) spawnedIn(gen int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var pids []int
	want := fmt.Sprintf("generation=%d", gen)
	for _, l := range p.lines {
		if strings.Contains(l, "spawned worker") && (gen == 0 || strings.Contains(l, want)) {
			if m := pidField.FindStringSubmatch(l); m != nil {
				pid, _ := strconv.Atoi(m[1])
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// statFields is /proc/PID/stat after the command name (which may hold
// spaces): fields[0] is stat(5)'s field 3, the state; nil when pid is gone.
func statFields(pid int) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// alive is true for a process that exists and is not a zombie.
func alive(pid int) bool {
	f := statFields(pid)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// waitGone waits until none of pids is alive.
func waitGone(t *testing.T, pids []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var left []int
		for _, pid := range pids {
			if alive(pid) {
				left = append(left, pid)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still alive: %v", left)
		}
		time.Sleep(20 * time.Millisecond) // polling /proc: there is no event for another process's exit
	}
}

// freePort returns a loopback port nothing listens on right now, below
// the kernel's ephemeral range. A port from that range can become the
// source port of any test's outgoing connection while its server is
// down (a uWSGI stopped before a supervise binds the same address, a
// restart), and the next bind fails with EADDRINUSE: CI saw it once.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	if low := ephemeralLow(); low > freePortFloor+1000 {
		for tries := 0; tries < 1000; tries++ {
			port := freePortFloor + rand.Intn(low-freePortFloor)
			if portsGiven[port] {
				continue
			}
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue // someone listens there
			}
			l.Close()
			portsGiven[port] = true
			return port
		}
	}
	for { // a host whose ephemeral range starts low: the kernel's pick
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The kernel may give a port it gave a moment ago, once closed:
		// two addresses of one test were then the same (a master's stats
		// server found its http-socket's port taken).
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
}

// freePortFloor is the lowest port freePort picks: above the ports
// services commonly use.
const freePortFloor = 15000

// ephemeralLow is the first port of the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), 32768 when it cannot be read.
func ephemeralLow() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(raw), &low, &high); err != nil {
		return 32768
	}
	return low
}

// portsGiven are the ports freePort handed out in this test binary.
var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// shortTempDir is a temp dir with a path short enough for unix sockets.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "sv-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// get fetches url and returns status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// asyncResult is what getAsync's request ended with.
type asyncResult struct {
	code int
	body string
	err  error
}

// getAsync runs GET url in the background (a request the test holds open
// while it does something else) and delivers its result once.
func getAsync(url string) <-chan asyncResult {
	done := make(chan asyncResult, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			done <- asyncResult{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- asyncResult{resp.StatusCode, string(b), err}
	}()
	return done
}

// seedFile reads a file of the seed stack (../shared/seed beside the repo).
func seedFile(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{"../../examples/seed", "../../../shared/seed"} {
		if raw, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			return string(raw)
		}
	}
	t.Fatalf("seed file %s not found", name)
	return ""
}

// execHelper starts the test binary as a named helper without a master.
func execHelper(t *testing.T, name string, env ...string) *exec.Cmd {
	processTest(t)
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(append(os.Environ(), envHelper+"="+name), env...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func matchString(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
