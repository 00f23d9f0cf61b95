package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The spooler: testdata/spoolapp.py queues tasks with Debian's
// unmodified uwsgidecorators (@spool, @spoolforever) and uwsgi.spool();
// spooler processes run them from uWSGI's task files.

type spoolReply struct {
	File           string   `json:"file"`
	SpoolerPID     int      `json:"spooler_pid"`
	SpoolerPIDs    []int    `json:"spooler_pids"`
	Jobs           int      `json:"jobs"`
	IAmTheSpooler  *bool    `json:"i_am_the_spooler"`
	MuleID         int      `json:"mule_id"`
	Sent           *bool    `json:"sent"`
	Targets        []string `json:"targets"`
	MulesSeenByApp int      `json:"-"`
}

type spoolApp struct {
	m     *masterProc
	dir   string // the app's directory
	out   string // where tasks record what they did
	spool string // the spooler directory
	base  string
	stats string
}

// startSpoolApp runs testdata/spoolapp.py under supervise with a spooler
// on dir/spool and the extra ini lines.
func startSpoolApp(t *testing.T, extra ...string) *spoolApp {
	t.Helper()
	return startSpoolAppWith(t, nil, extra...)
}

// startSpoolAppWith writes files (name -> content) into the app's
// directory first.
func startSpoolAppWith(t *testing.T, files map[string]string, extra ...string) *spoolApp {
	t.Helper()
	requireUwsgidecorators(t)
	a := &spoolApp{dir: shortTempDir(t)}
	for name, content := range files {
		writeFile(t, filepath.Join(a.dir, name), content)
	}
	a.out, a.spool = filepath.Join(a.dir, "out"), filepath.Join(a.dir, "spool")
	os.Mkdir(a.out, 0o755)
	writeFile(t, filepath.Join(a.dir, "spoolapp.py"), readFile(t, "testdata/spoolapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	a.stats = filepath.Join(a.dir, "stats.sock")
	ini := filepath.Join(a.dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nwsgi-file = spoolapp.py\nprocesses = 2\nenv = OUT=%s\nstats = %s\nspooler = %s\n",
		addr, a.out, a.stats, a.spool)+strings.Join(extra, ""))
	a.m = startMaster(t, a.dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	a.m.waitLog(`all workers ready`, 1)
	a.m.waitLog(`spooler ready`, spoolerProcesses(extra))
	a.base = "http://" + addr
	return a
}

func spoolerProcesses(extra []string) int {
	for _, e := range extra {
		if n, ok := strings.CutPrefix(e, "spooler-processes = "); ok {
			p, _ := strconv.Atoi(strings.TrimSpace(n))
			return p
		}
	}
	return 1
}

func (a *spoolApp) get(t *testing.T, path string) spoolReply {
	t.Helper()
	var r spoolReply
	if err := json.Unmarshal([]byte(fresh(t, a.base+path)), &r); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return r
}

// lines is what a task recorded in out/name (nil when nothing yet).
func lines(dir, name string) []string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || !strings.HasSuffix(string(b), "\n") { // missing, or a line being written
		return nil
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// waitLines waits until out/name has n lines. Tasks run in other
// processes with nothing to wait on but their result: the file is the
// readiness signal, polled.
func waitLines(t *testing.T, dir, name string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if l := lines(dir, name); len(l) >= n {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d lines in %s (have %q)", n, name, lines(dir, name))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type statsDoc struct {
	Spoolers []struct {
		Dir      string `json:"dir"`
		PID      int    `json:"pid"`
		Tasks    int    `json:"tasks"`
		Respawns int    `json:"respawns"`
		Running  int    `json:"running"`
	} `json:"spoolers"`
	Mules []struct {
		ID           int `json:"id"`
		PID          int `json:"pid"`
		Messages     int `json:"messages"`
		RespawnCount int `json:"respawn_count"`
	} `json:"mules"`
	Workers []json.RawMessage `json:"workers"`
}

func readStats(t *testing.T, path string) statsDoc {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	var st statsDoc
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("stats: %v: %s", err, raw)
	}
	return st
}

// Tasks queued with @spool, @spoolforever and uwsgi.spool() run in the
// spooler process (cwd = the spooler directory, i_am_the_spooler True),
// once each; at= waits, priority= runs from a subdirectory; a task that
// raises is logged with its traceback and retried, as uWSGI does; an
// invalid file is moved aside with one log line; stats show uWSGI's
// spoolers entry, and uwsgi.spooler_pid() its pid.
func TestSpoolerRunsTasks(t *testing.T) {
	parallel(t)
	a := startSpoolApp(t, "spooler-frequency = 1\n")
	r := a.get(t, "/spool?n=1")
	if !strings.HasPrefix(r.File, a.spool+"/uwsgi_spoolfile_on_") {
		t.Errorf("spool returned %q, want a file in %s named as uWSGI names them", r.File, a.spool)
	}
	got := waitLines(t, a.out, "done-1", 1)
	if f := strings.Fields(got[0]); len(f) != 3 || f[1] != a.spool || f[2] != "True" {
		t.Errorf("task ran as %q; want the spooler's pid, cwd = the spooler directory, i_am_the_spooler True", got[0])
	}
	if r.IAmTheSpooler != nil || r.SpoolerPID == 0 || strconv.Itoa(r.SpoolerPID) != strings.Fields(got[0])[0] {
		t.Errorf("worker: i_am_the_spooler %v, spooler_pid %d; the task ran in %s", r.IAmTheSpooler, r.SpoolerPID, got[0])
	}

	// raw uwsgi.spool() with a body, through the app's own uwsgi.spooler
	a.get(t, "/raw?n=r&body=70000")
	raw := waitLines(t, a.out, "raw-r", 1)
	if f := strings.Fields(raw[0]); len(f) != 2 || f[0] != strings.Repeat("B", 70000) || !strings.HasPrefix(f[1], "uwsgi_spoolfile_on_") {
		t.Errorf("raw task got body %d bytes and task name %q", len(f[0]), f[len(f)-1])
	}

	// at= in the future waits; priority runs from its subdirectory
	at := time.Now().Add(3 * time.Second).Unix()
	r = a.get(t, fmt.Sprintf("/spool?n=later&at=%d", at))
	r2 := a.get(t, "/spool?n=prio&priority=5")
	if filepath.Dir(r2.File) != filepath.Join(a.spool, "5") {
		t.Errorf("priority 5 task written to %s, want %s/5", r2.File, a.spool)
	}
	waitLines(t, a.out, "done-prio", 1)
	if fi, err := os.Stat(r.File); err != nil || fi.ModTime().Unix() != at {
		t.Errorf("at= task %s: %v (mtime %v, want %d)", r.File, err, fi, at)
	}
	waitLines(t, a.out, "done-later", 1)
	if time.Now().Unix() < at {
		t.Errorf("the at= task ran before its time")
	}

	// a raising task: traceback logged, retried at the next scan, then done
	a.get(t, "/spool?n=flaky&mode=raise_once")
	waitLines(t, a.out, "done-flaky", 1)
	a.m.waitLog(`spooler task raised`, 1)
	a.m.waitLog(`RuntimeError: task failed on demand`, 1)

	// @spoolforever: SPOOL_RETRY, so it runs again at each scan
	a.get(t, "/forever?n=f")
	waitLines(t, a.out, "forever-f", 2)

	// an invalid file: moved aside, logged once, never run
	bad := filepath.Join(a.spool, "uwsgi_spoolfile_on_garbage")
	writeFile(t, bad, "\x11\xff\x7f\x00short")
	a.get(t, "/spool?n=after-bad") // wakes the spooler
	waitLines(t, a.out, "done-after-bad", 1)
	a.m.waitLog(`invalid spool file.*uwsgi_spoolfile_on_garbage`, 1)
	if _, err := os.Stat(filepath.Join(a.spool, "supervise-failed", "uwsgi_spoolfile_on_garbage")); err != nil {
		t.Errorf("the invalid file was not moved aside: %v", err)
	}

	for _, n := range []string{"1", "later", "prio", "flaky", "after-bad"} {
		if l := lines(a.out, "done-"+n); len(l) != 1 {
			t.Errorf("task %s ran %d times", n, len(l))
		}
	}
	if n := len(a.m.waitLog(`invalid spool file`, 1)); n != 1 {
		t.Errorf("the invalid file was logged %d times", n)
	}
	st := readStats(t, a.stats)
	if len(st.Spoolers) != 1 || st.Spoolers[0].Dir != a.spool || st.Spoolers[0].PID != r.SpoolerPID ||
		st.Spoolers[0].Tasks < 6 || st.Spoolers[0].Respawns != 0 {
		t.Errorf("stats spoolers %+v; want one entry for %s, pid %d, tasks >= 6, respawns 0", st.Spoolers, a.spool, r.SpoolerPID)
	}
}

// A task whose spooler process dies in the middle (kill -9, or
// spooler-harakiri) is never run again: uWSGI would run it again after
// the respawn. It is moved aside with one log line; the spooler process
// is respawned and runs the next task.
func TestSpoolerTaskNeverRunsTwiceAfterACrash(t *testing.T) {
	parallel(t)
	a := startSpoolApp(t, "spooler-harakiri = 2\n")
	a.get(t, "/spool?n=c&mode=crash")
	pid := waitLines(t, a.out, "started-c", 1)[0]
	a.m.waitLog(`daemon exited; restarting it.*spooler.*killed by SIGKILL`, 1)
	a.m.waitLog(`a spooler process died while running this task`, 1)
	a.get(t, "/spool?n=h&mode=hang")
	waitLines(t, a.out, "started-h", 1)
	a.m.waitLog(`daemon exited; restarting it.*spooler.*killed by alarm clock`, 1)
	a.m.waitLog(`a spooler process died while running this task`, 2)
	a.get(t, "/spool?n=next")
	next := waitLines(t, a.out, "done-next", 1)
	if strings.Fields(next[0])[0] == pid {
		t.Errorf("the task after the crash ran in the crashed pid %s", pid)
	}
	for _, n := range []string{"c", "h"} {
		if l := lines(a.out, "started-"+n); len(l) != 1 {
			t.Errorf("task %s started %d times, want once", n, len(l))
		}
		if l := lines(a.out, "done-"+n); l != nil {
			t.Errorf("task %s finished: %q", n, l)
		}
	}
	failed, _ := filepath.Glob(filepath.Join(a.spool, "supervise-failed", "uwsgi_spoolfile_on_*"))
	left, _ := filepath.Glob(filepath.Join(a.spool, "*uwsgi_spoolfile_on_*"))
	if len(failed) != 2 || len(left) != 0 {
		t.Errorf("moved aside %q, left in the spooler directory %q; want the two interrupted tasks aside", failed, left)
	}
	for _, f := range failed { // moved back by hand, it runs
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s moved aside with mode %v, want 0600 (the running bit cleared)", f, fi.Mode())
		}
	}
	if st := readStats(t, a.stats); len(st.Spoolers) != 1 || st.Spoolers[0].Respawns != 2 {
		t.Errorf("stats spoolers %+v; want respawns 2", st.Spoolers)
	}
}

// Tasks queued before, during and after a graceful reload all run, each
// exactly once; the reload restarts the spooler processes (new code).
func TestSpoolerTasksQueuedDuringAReloadRunOnce(t *testing.T) {
	parallel(t)
	a := startSpoolApp(t, "spooler-processes = 2\n")
	before := a.get(t, "/spool?n=0&mode=slow").SpoolerPIDs
	const n = 60
	for i := 1; i < n; i++ {
		if i == 20 {
			a.m.signal(syscall.SIGHUP)
		}
		a.get(t, fmt.Sprintf("/spool?n=%d&mode=slow", i))
	}
	a.m.waitLog(`all workers ready.*generation=2`, 1)
	for i := 0; i < n; i++ {
		waitLines(t, a.out, "done-"+strconv.Itoa(i), 1)
	}
	after := a.get(t, "/spool?n=last").SpoolerPIDs
	waitLines(t, a.out, "done-last", 1)
	for i := 0; i < n; i++ {
		if l := lines(a.out, "done-"+strconv.Itoa(i)); len(l) != 1 {
			t.Errorf("task %d ran %d times", i, len(l))
		}
	}
	if len(before) != 2 || len(after) != 2 || before[0] == after[0] || before[1] == after[1] || before[0] == 0 || after[0] == 0 {
		t.Errorf("spooler pids before the reload %v, after %v: want two, all replaced", before, after)
	}
}

// spooler-import loads task functions the app does not, spooler-chdir is
// where tasks run, spooler-max-tasks replaces a spooler process after that
// many tasks, and a graceful shutdown lets the running task finish.
func TestSpoolerOptions(t *testing.T) {
	parallel(t)
	extra := "import os\nfrom uwsgidecorators import spool\n" +
		"@spool\ndef extra_task(args):\n" +
		"    open(os.path.join(os.environ['OUT'], 'extra-' + args['n']), 'a').write('%d %s\\n' % (os.getpid(), os.getcwd()))\n"
	a := startSpoolAppWith(t, map[string]string{"extratasks.py": extra},
		"spooler-import = extratasks.py\nspooler-max-tasks = 2\nspooler-chdir = /tmp\n")
	first := a.get(t, "/extra?n=1").SpoolerPID
	got := waitLines(t, a.out, "extra-1", 1)
	if f := strings.Fields(got[0]); len(f) != 2 || f[0] != strconv.Itoa(first) || f[1] != "/tmp" {
		t.Errorf("the spooler-import task ran as %q; want pid %d in /tmp", got[0], first)
	}
	a.get(t, "/spool?n=2")
	waitLines(t, a.out, "done-2", 1)
	a.m.waitLog(`maximum number of tasks reached`, 1)
	a.m.waitLog(`spooler ready`, 2)
	a.get(t, "/spool?n=3")
	if got := waitLines(t, a.out, "done-3", 1); strings.Fields(got[0])[0] == strconv.Itoa(first) {
		t.Errorf("task 3 ran in the spooler process that reached spooler-max-tasks")
	}
	a.get(t, "/spool?n=4&mode=second")
	waitLines(t, a.out, "started-4", 1)
	// stats read all along a reload and the shutdown (their spooler rows
	// once waited on the loop under the stats server's lock)
	stop, done := make(chan struct{}), make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c, err := net.Dial("unix", a.stats); err == nil {
					io.Copy(io.Discard, c)
					c.Close()
				}
			}
		}()
	}
	a.m.signal(syscall.SIGHUP)
	a.m.waitLog(`all workers ready.*generation=2`, 1)
	a.m.signal(syscall.SIGTERM)
	code := a.m.waitExit()
	close(stop)
	for i := 0; i < 8; i++ {
		<-done
	}
	if code != 0 {
		t.Errorf("graceful shutdown exited %d", code)
	}
	if l := lines(a.out, "done-4"); len(l) != 1 {
		t.Errorf("the task running at shutdown did not finish: %q", l)
	}
	if left, _ := filepath.Glob(filepath.Join(a.spool, "uwsgi_spoolfile_on_*")); len(left) != 0 {
		t.Errorf("tasks left after a graceful shutdown: %q", left)
	}
}

// A spooler directory that cannot be made is a start-up error naming it.
func TestSpoolerDirectoryErrors(t *testing.T) {
	requireUwsgidecorators(t)
	dir := shortTempDir(t)
	m := startMaster(t, dir, "--http-socket", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--python-bin", "/usr/bin/python3",
		"--spooler", filepath.Join(dir, "no", "such", "spool"))
	if code := m.waitExit(); code == 0 {
		t.Errorf("started with a spooler directory that cannot exist")
	}
	m.waitLog(`spooler .*/no/such/spool: .*no such file`, 1)
	made := filepath.Join(dir, "made")
	m = startMaster(t, dir, "--http-socket", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--python-bin", "/usr/bin/python3",
		"--spooler", made)
	m.waitLog(`spooler ready`, 1)
	if fi, err := os.Stat(made); err != nil || !fi.IsDir() {
		t.Errorf("a missing spooler directory whose parent exists is made, as uWSGI does: %v", err)
	}
}

// Task files are uWSGI 2.0.21's, both ways: tasks queued by a real uWSGI
// (with @spool and uwsgi.spool) run under supervise, and tasks queued
// under supervise run in uWSGI's spooler.
func TestSpoolerFilesInterchangeWithUWSGI(t *testing.T) {
	processTest(t)
	uwsgiBin := requireTool(t, "/usr/bin/uwsgi", "--plugins", "python3", "--version")
	requireUwsgidecorators(t)
	dir := shortTempDir(t)
	out, spool := filepath.Join(dir, "out"), filepath.Join(dir, "spool")
	os.Mkdir(out, 0o755)
	writeFile(t, filepath.Join(dir, "spoolapp.py"), readFile(t, "testdata/spoolapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	base := "http://" + addr
	runUWSGI := func(hold string) *uwsgiProc {
		u := startUWSGI(t, uwsgiBin, dir, addr, "--plugins", "python3", "--master", "--http-socket", addr, "--wsgi-file", "spoolapp.py",
			"--spooler", spool, "--spooler-ordered", "--spooler-frequency", "1", "--env", "OUT="+out, "--env", "SPOOL_HOLD="+hold)
		u.Get(t, base+"/")
		return u
	}
	// uWSGI writes (its spooler leaves them: SPOOL_IGNORE)
	u := runUWSGI("1")
	for _, q := range []string{"/spool?n=u1", "/spool?n=u2&priority=3", "/raw?n=u3&body=5"} {
		fresh(t, base+q)
	}
	u.Stop(t)
	files, _ := filepath.Glob(filepath.Join(spool, "uwsgi_spoolfile_on_*"))
	prio, _ := filepath.Glob(filepath.Join(spool, "3", "uwsgi_spoolfile_on_*"))
	if len(files) != 2 || len(prio) != 1 {
		t.Fatalf("uWSGI left %q and %q; want 2 tasks and one in priority 3", files, prio)
	}
	checkHeader(t, files[0])

	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nwsgi-file = spoolapp.py\nenv = OUT=%s\nspooler = %s\n", addr, out, spool))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	waitLines(t, out, "done-u1", 1)
	waitLines(t, out, "done-u2", 1)
	if raw := waitLines(t, out, "raw-u3", 1); !strings.HasPrefix(raw[0], "BBBBB uwsgi_spoolfile_on_") {
		t.Errorf("uWSGI's raw task ran with %q", raw[0])
	}

	// supervise writes (held), uWSGI runs
	m.cmd.Process.Signal(syscall.SIGTERM)
	m.waitExit()
	writeFile(t, ini, readFile(t, ini)+"env = SPOOL_HOLD=1\n")
	m = startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	m.waitLog(`all workers ready`, 1)
	for _, q := range []string{"/spool?n=s1", "/spool?n=s2&priority=4", "/raw?n=s3&body=7"} {
		fresh(t, base+q)
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	m.waitExit()
	runUWSGI("0")
	waitLines(t, out, "done-s1", 1)
	waitLines(t, out, "done-s2", 1)
	if raw := waitLines(t, out, "raw-s3", 1); !strings.HasPrefix(raw[0], "BBBBBBB uwsgi_spoolfile_on_") {
		t.Errorf("supervise's raw task ran under uWSGI with %q", raw[0])
	}
	for _, n := range []string{"done-u1", "done-u2", "raw-u3", "done-s1", "done-s2", "raw-s3"} {
		if l := lines(out, n); len(l) != 1 {
			t.Errorf("%s: ran %d times", n, len(l))
		}
	}
}

// checkHeader: uWSGI's task file starts with a uwsgi packet header,
// modifier1 17, the vars size, modifier2 0.
func checkHeader(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 4 || b[0] != 17 || b[3] != 0 || int(binary.LittleEndian.Uint16(b[1:3])) > len(b)-4 {
		t.Errorf("%s does not start with uWSGI's spool header: % x", path, b[:min(len(b), 8)])
	}
}
