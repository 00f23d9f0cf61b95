package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The uwsgi module: an app written for uWSGI (testdata/uwsgiapp.py, with
// Debian's unmodified uwsgidecorators) runs under supervise.

const uwsgiAppINI = "[uwsgi]\nhttp-socket = %s\nwsgi-file = uwsgiapp.py\nprocesses = 2\nthreads = 2\n" +
	"env = A=1\nenv = B=2\nvacuum\nmyvar = hello\nset-ph = ph1=x\nlocks = 2\n"

// startUwsgiApp runs testdata/uwsgiapp.py under supervise over
// http-socket, with extra ini lines.
func startUwsgiApp(t *testing.T, extra ...string) (m *masterProc, dir, base string) {
	t.Helper()
	requireUwsgidecorators(t)
	dir = shortTempDir(t)
	writeFile(t, filepath.Join(dir, "uwsgiapp.py"), readFile(t, "testdata/uwsgiapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf(uwsgiAppINI, addr)+strings.Join(extra, ""))
	m = startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	m.waitLog(`all workers ready`, 1)
	return m, dir, "http://" + addr
}

// fresh fetches url on a new connection, so requests spread over workers.
func fresh(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

type uwsgiInfo struct {
	Opt              map[string]any `json:"opt"`
	WorkerID         int            `json:"worker_id"`
	Numproc          int            `json:"numproc"`
	MasterPID        int            `json:"masterpid"`
	MuleID           int            `json:"mule_id"`
	StartedOn        int64          `json:"started_on"`
	PID              int            `json:"pid"`
	VersionIsBytes   bool           `json:"version_is_bytes"`
	Hostname         string         `json:"hostname"`
	MagicN           string         `json:"magic_n"`
	TotalRequests    int            `json:"total_requests"`
	Workers          []struct{ ID, PID, Requests int }
	Spool            []int   `json:"spool"`
	Postfork         []int   `json:"postfork"`
	Logvar           string  `json:"logvar"`
	LogvarMissing    *string `json:"logvar_missing"`
	IsConnectedStdin bool    `json:"is_connected_stdin"`
	IAmTheSpooler    *bool   `json:"i_am_the_spooler"`
	LockOutOfRange   string  `json:"lock_out_of_range"`
	LockNegative     string  `json:"lock_negative"`
	CacheGet         string  `json:"cache_get"`
	HasCacheGet      bool    `json:"has_cache_get"`
	Unknown          string  `json:"unknown"`
}

func getInfo(t *testing.T, base string) uwsgiInfo {
	t.Helper()
	var info uwsgiInfo
	body := fresh(t, base+"/info")
	if err := json.Unmarshal([]byte(body), &info); err != nil {
		t.Fatalf("/info: %v: %s", err, body)
	}
	return info
}

func TestUwsgiModuleIdentity(t *testing.T) {
	before := time.Now().Unix()
	m, _, base := startUwsgiApp(t)
	// The kernel may hand every connection to one worker; workers()
	// shows both either way.
	seen := map[int]uwsgiInfo{}
	for i := 0; i < 20 && len(seen) < 2; i++ {
		info := getInfo(t, base)
		seen[info.WorkerID] = info
	}
	for id, info := range seen {
		if (id != 1 && id != 2) || info.PID == 0 {
			t.Fatalf("worker_id() %d in pid %d", id, info.PID)
		}
	}
	info := getInfo(t, base)
	if info.MasterPID != m.cmd.Process.Pid || info.Numproc != 2 || info.MuleID != 0 {
		t.Errorf("masterpid %d (master %d) numproc %d mule_id %d", info.MasterPID, m.cmd.Process.Pid, info.Numproc, info.MuleID)
	}
	if info.StartedOn < before-1 || info.StartedOn > time.Now().Unix() {
		t.Errorf("started_on %d, the master started at %d", info.StartedOn, before)
	}
	host, _ := os.Hostname()
	if !info.VersionIsBytes || info.Hostname != host || info.MagicN != "app" {
		t.Errorf("version bytes %v hostname %q magic n %q", info.VersionIsBytes, info.Hostname, info.MagicN)
	}
	if fmt.Sprint(info.Spool) != "[-2 -1 0]" {
		t.Errorf("SPOOL_OK, SPOOL_RETRY, SPOOL_IGNORE = %v, want uWSGI's -2 -1 0", info.Spool)
	}
	if len(info.Postfork) != 1 || info.Postfork[0] != info.PID {
		t.Errorf("@postfork ran %v in worker pid %d, want once", info.Postfork, info.PID)
	}
	if info.Logvar != "alice" || info.LogvarMissing != nil || info.IsConnectedStdin || info.IAmTheSpooler != nil {
		t.Errorf("logvar %q missing %v is_connected(0) %v i_am_the_spooler %v", info.Logvar, info.LogvarMissing, info.IsConnectedStdin, info.IAmTheSpooler)
	}
	if info.LockOutOfRange != "ValueError: Invalid lock number" || info.LockNegative != "ValueError: Invalid lock number" {
		t.Errorf("lock(locks+1): %q, is_locked(-1): %q; want uWSGI's ValueError", info.LockOutOfRange, info.LockNegative)
	}
	if info.CacheGet != "no error" || !info.HasCacheGet { // no cache configured: None, as uWSGI
		t.Errorf("cache_get without a cache: %q, hasattr %v", info.CacheGet, info.HasCacheGet)
	}
	if !strings.HasPrefix(info.Unknown, "AttributeError") {
		t.Errorf("an unknown name: %q", info.Unknown)
	}
	if info.TotalRequests < 1 {
		t.Errorf("total_requests %d after at least one request", info.TotalRequests)
	}
	pids := map[int]int{}
	for _, w := range info.Workers {
		pids[w.ID] = w.PID
	}
	if len(info.Workers) != 2 || pids[1] == 0 || pids[2] == 0 || pids[info.WorkerID] != info.PID {
		t.Errorf("workers() %+v, want workers 1 and 2, %d with pid %d", info.Workers, info.WorkerID, info.PID)
	}
	wantOpt := map[string]any{
		"http-socket": []any{"bytes", strings.TrimPrefix(base, "http://")}, "wsgi-file": []any{"bytes", "uwsgiapp.py"},
		"processes": []any{"bytes", "2"}, "env": []any{"bytes", "B=2"}, "vacuum": []any{"bytes", ""},
		"myvar": []any{"bytes", "hello"}, "locks": []any{"bytes", "2"},
	}
	for k, w := range wantOpt {
		if fmt.Sprint(info.Opt[k]) != fmt.Sprint(w) {
			t.Errorf("opt[%q] = %v, want %v", k, info.Opt[k], w)
		}
	}
}

// uWSGI 2.0.21 and supervise show the same uwsgi.opt for the same ini and
// command line (but for --python-bin, which only supervise reads), and
// agree on the other observable values.
func TestUwsgiOptMatchesUWSGI(t *testing.T) {
	processTest(t)
	uwsgiBin := requireTool(t, "/usr/bin/uwsgi", "--plugins", "python3", "--version")
	requireUwsgidecorators(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "uwsgiapp.py"), readFile(t, "testdata/uwsgiapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf(uwsgiAppINI, addr)+"plugins = python3\nmaster = true\n")
	base := "http://" + addr

	u := startUWSGI(t, uwsgiBin, dir, addr, "--ini", ini, "--disable-logging")
	var theirs uwsgiInfo
	if body := u.Get(t, base+"/info"); json.Unmarshal([]byte(body), &theirs) != nil {
		t.Fatalf("uWSGI /info: not JSON: %s", body)
	}
	u.Stop(t)

	m := startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3", "--disable-logging")
	m.waitLog(`all workers ready`, 1)
	ours := getInfo(t, base)
	delete(ours.Opt, "python-bin") // only supervise reads it
	if fmt.Sprint(ours.Opt) != fmt.Sprint(theirs.Opt) {
		t.Errorf("uwsgi.opt\n supervise %v\n uWSGI     %v", ours.Opt, theirs.Opt)
	}
	same := func(what string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s: supervise %v, uWSGI %v", what, a, b)
		}
	}
	same("numproc", ours.Numproc, theirs.Numproc)
	same("SPOOL_*", ours.Spool, theirs.Spool)
	same("lock past locks", ours.LockOutOfRange, theirs.LockOutOfRange)
	same("is_locked(-1)", ours.LockNegative, theirs.LockNegative)
	same("get_logvar", ours.Logvar, theirs.Logvar)
	same("get_logvar of an unset key", ours.LogvarMissing, theirs.LogvarMissing)
	same("i_am_the_spooler", ours.IAmTheSpooler, theirs.IAmTheSpooler)
	same("is_connected(0)", ours.IsConnectedStdin, theirs.IsConnectedStdin)
	same("version is bytes", ours.VersionIsBytes, theirs.VersionIsBytes)
	same("magic_table[n]", ours.MagicN, theirs.MagicN)
	same("postfork runs", len(ours.Postfork), len(theirs.Postfork))
	same("mule_id", ours.MuleID, theirs.MuleID)
	same("cache_get without a cache", ours.CacheGet, theirs.CacheGet)
	same("hasattr cache_get", ours.HasCacheGet, theirs.HasCacheGet)
}

// uwsgidecorators' @lock excludes every other thread and worker: a
// read-modify-write with a sleep inside loses no update.
func TestUwsgiLockExcludesThreadsAndWorkers(t *testing.T) {
	_, dir, base := startUwsgiApp(t)
	counter := filepath.Join(dir, "counter")
	writeFile(t, counter, "0")
	const n = 60
	var wg sync.WaitGroup
	got := make(chan string, n)
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n/6; j++ {
				got <- fresh(t, base+"/bump?"+counter)
			}
		}()
	}
	wg.Wait()
	close(got)
	distinct := map[string]bool{}
	for v := range got {
		distinct[v] = true
	}
	if final := strings.TrimSpace(readFile(t, counter)); final != strconv.Itoa(n) || len(distinct) != n {
		t.Fatalf("counter %s with %d distinct results after %d locked increments: the lock did not exclude", final, len(distinct), n)
	}
	if got := fresh(t, base+"/locked?0"); got != "[true, false]" {
		t.Fatalf("is_locked inside and after lock(0): %s, want [true, false]", got)
	}
}

// A lock held by one worker is seen as locked by every other; when the
// holder is killed, the kernel releases it (uWSGI's robust mutexes).
func TestUwsgiLockHeldAcrossWorkersAndReleasedOnDeath(t *testing.T) {
	m, dir, base := startUwsgiApp(t)
	release := filepath.Join(dir, "release")
	held := getAsync(base + "/hold?" + release)
	waitFile(t, release+".held")
	for i := 0; i < 8; i++ { // every thread of both workers, whichever answers
		if got := fresh(t, base+"/is_locked?1"); got != "true" {
			t.Fatalf("is_locked(1) while another request holds it: %s", got)
		}
	}
	writeFile(t, release, "")
	if r := <-held; r.err != nil || r.body != "released" {
		t.Fatalf("/hold: %+v", r)
	}
	if got := fresh(t, base+"/is_locked?1"); got != "false" {
		t.Fatalf("is_locked(1) after unlock: %s", got)
	}

	os.Remove(release)
	os.Remove(release + ".held")
	killed := make(chan error, 1)
	go func() { // on a connection of its own: a broken reused one is retried, and would hold the lock again
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		_, err := c.Get(base + "/hold?" + release)
		killed <- err
	}()
	waitFile(t, release+".held")
	for _, pid := range m.workerPids() { // the holder among them
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := <-killed; err == nil {
		t.Fatal("the request holding the lock answered although its worker was killed")
	}
	m.waitLog(`spawned worker`, 4)
	m.waitLog(`postfork ran`, 4)
	if got := fresh(t, base+"/is_locked?1"); got != "false" {
		t.Fatalf("is_locked(1) after its holder was killed: %s", got)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(5 * time.Millisecond) // the app writes it; nothing to wait on but the file
	}
}

// @postfork runs once in every worker: at start, in a respawned worker,
// after uwsgi.reload() and uwsgi.chain_reload(); uwsgi.stop() ends the
// server.
func TestUwsgiPostforkAndControl(t *testing.T) {
	m, _, base := startUwsgiApp(t)
	m.waitLog(`postfork ran`, 2)
	pids := m.workerPids()
	syscall.Kill(pids[0], syscall.SIGKILL)
	m.waitLog(`postfork ran`, 3)

	if got := fresh(t, base+"/reload"); got != "True" {
		t.Fatalf("uwsgi.reload() = %s, want True", got)
	}
	m.waitLog(`all workers ready: generation=2`, 1)
	m.waitLog(`postfork ran`, 5)
	// A worker being replaced may drop a connection it just accepted
	// (worker.py's stop path, not the uwsgi module): ask the new ones.
	waitGone(t, m.spawnedIn(1), 30*time.Second)

	if got := fresh(t, base+"/chain_reload"); got != "True" {
		t.Fatalf("uwsgi.chain_reload() = %s", got)
	}
	m.waitLog(`all workers ready: generation=3`, 1)
	m.waitLog(`postfork ran`, 7)
	waitGone(t, m.spawnedIn(2), 30*time.Second)

	if got := fresh(t, base+"/stop"); got != "True" {
		t.Fatalf("uwsgi.stop() = %s", got)
	}
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit %d after uwsgi.stop()", code)
	}
	if n := len(m.waitLog(`postfork ran`, 7)); n != 7 {
		t.Fatalf("postfork ran %d times for 7 worker starts", n)
	}
}

// uwsgi.disconnect() closes the client's connection while the app goes on.
func TestUwsgiDisconnect(t *testing.T) {
	_, _, base := startUwsgiApp(t)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if len(got) != 0 || (err != nil && !strings.Contains(err.Error(), "reset")) {
		t.Fatalf("after uwsgi.disconnect() the client read %q (%v), want the connection closed", got, err)
	}
	if got := fresh(t, base+"/"); !strings.HasPrefix(got, "pid=") {
		t.Fatalf("the worker no longer serves: %q", got)
	}
}

// requireUwsgidecorators needs Debian's python3-uwsgidecorators (it cannot
// be imported outside a uWSGI or supervise worker, so only found).
func requireUwsgidecorators(t *testing.T) {
	t.Helper()
	requireTool(t, "/usr/bin/python3", "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('uwsgidecorators') is None)")
}

// A post-fork hook that raises is logged once per worker with its
// traceback; the worker goes on serving (as in uWSGI).
func TestUwsgiPostforkHookThatRaises(t *testing.T) {
	m, _, base := startUwsgiApp(t, "env = POSTFORK_RAISE=1\n")
	m.waitLog(`uwsgi.post_fork_hook raised`, 2)
	m.waitLog(`RuntimeError: postfork failed on demand`, 2)
	if got := fresh(t, base+"/"); !strings.HasPrefix(got, "pid=") {
		t.Fatalf("a worker whose post-fork hook raised does not serve: %q", got)
	}
}

// Behind nginx (uwsgi_pass over a unix socket): the module and the
// post-fork hooks work the same.
func TestUwsgiModuleBehindNginx(t *testing.T) {
	requireUwsgidecorators(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "uwsgiapp.py"), readFile(t, "testdata/uwsgiapp.py"))
	sock := filepath.Join(dir, "app.sock")
	m := startMaster(t, dir, "--socket", sock, "--wsgi-file", "uwsgiapp.py", "--processes", "2",
		"--python-bin", "/usr/bin/python3", "--chdir", dir)
	m.waitLog(`all workers ready`, 1)
	base := startNginx(t, dir, "unix:"+sock)
	info := getInfo(t, base)
	if info.MasterPID != m.cmd.Process.Pid || len(info.Postfork) != 1 || info.Postfork[0] != info.PID || info.Logvar != "alice" {
		t.Fatalf("behind nginx: masterpid %d (master %d), postfork %v in pid %d, logvar %q",
			info.MasterPID, m.cmd.Process.Pid, info.Postfork, info.PID, info.Logvar)
	}
	if fmt.Sprint(info.Opt["processes"]) != "[bytes 2]" || info.Opt["socket"] == nil {
		t.Fatalf("opt behind nginx: %v", info.Opt)
	}
}
