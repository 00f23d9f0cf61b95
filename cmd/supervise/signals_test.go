package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/stats"
)

// uWSGI signals: testdata/signalapp.py (Debian's uwsgidecorators @timer,
// @rbtimer, @signal, @filemon, and the uwsgi functions) under supervise,
// and the same app under uWSGI 2.0.21 where behaviour is observable.
// Workers import the app themselves here (lazy-apps), so registrations
// are uWSGI's lazy-apps kind: each worker registers its own handlers and
// adds its own timers, and the master routes their signals to any worker.
// The preforked kind (the zygote registers once, "workers" reaches every
// worker) is TestSignalsReachMulesAndSpoolers's.

// startSignalApp runs signalapp.py under supervise over http-socket.
func startSignalApp(t *testing.T, processes, threads int, env ...string) (m *masterProc, dir, base string) {
	t.Helper()
	dir = shortTempDir(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return runSignalApp(t, dir, "http-socket = "+addr, processes, threads, env...), dir, "http://" + addr
}

// runSignalApp runs signalapp.py under supervise in dir, on the socket
// the ini line listen names.
func runSignalApp(t *testing.T, dir, listen string, processes, threads int, env ...string) *masterProc {
	t.Helper()
	processTest(t)
	requireUwsgidecorators(t)
	writeFile(t, filepath.Join(dir, "signalapp.py"), readFile(t, "testdata/signalapp.py"))
	ini := filepath.Join(dir, "app.ini")
	text := fmt.Sprintf("[uwsgi]\n%s\nwsgi-file = signalapp.py\nprocesses = %d\nthreads = %d\ndisable-logging = true\nlazy-apps = true\n",
		listen, processes, threads)
	for _, e := range env {
		text += "env = " + e + "\n"
	}
	writeFile(t, ini, text)
	m := startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	m.waitLog(`all workers ready`, 1)
	return m
}

// Behind nginx (uwsgi_pass over a unix socket): every signal decorator
// of Debian's uwsgidecorators (@timer, @rbtimer, @cron, @signal,
// @filemon) runs its handler, and signals raised in requests nginx
// passed reach theirs.
func TestSignalDecoratorsBehindNginx(t *testing.T) {
	dir := shortTempDir(t)
	watched := filepath.Join(dir, "watched")
	writeFile(t, watched, "a")
	sock := filepath.Join(dir, "app.sock")
	m := runSignalApp(t, dir, "socket = "+sock, 2, 1, "SIGAPP_TIMERS=1", "SIGAPP_FAST=1", "SIGAPP_SLOW=2",
		"SIGAPP_CRON=1", "SIGAPP_WATCHED="+watched)
	base := startNginx(t, dir, "unix:"+sock)
	if got := fresh(t, base+"/raise?20"); got != "ok" {
		t.Fatalf("/raise?20 through nginx: %q", got)
	}
	m.waitLog(`SIGEV kind=s20`, 1)
	fresh(t, base+"/raise?22")
	m.waitLog(`SIGEV kind=s22`, 1)
	if err := os.WriteFile(watched, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`SIGEV kind=filemon`, 1)
	m.waitLog(`SIGEV kind=rb3`, 6) // add_rb_timer(40, 1, 3) in each worker
	for _, kind := range []string{"fast", "slow", "rb"} {
		m.waitLog(`SIGEV kind=`+kind+` `, 2)
	}
	// @cron(-1, -1, -1, -1, -1): the master checks crons once a minute,
	// as uWSGI's does; the waits above took some of it.
	m.waitLog(`SIGEV kind=cron `, 1)
}

// workers[].signals counts the signal handlers each worker ran, as
// uWSGI's stats and uwsgi.workers() do (core/signal.c counts before the
// handler runs, so one that raises counts too).
func TestSignalsCountedInStats(t *testing.T) {
	dir := shortTempDir(t)
	addr, statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t)), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := runSignalApp(t, dir, "http-socket = "+addr+"\nstats = "+statsAddr, 1, 2)
	base := "http://" + addr
	for i := 1; i <= 3; i++ {
		fresh(t, base+"/raise?22")
		m.waitLog(`SIGEV kind=s22`, i)
	}
	fresh(t, base+"/raise?21")
	m.waitLog(`RuntimeError: the handler of signal 21 raises`, 1)
	waitStats(t, statsAddr, func(st *stats.Stats) bool { return len(st.Workers) == 1 && st.Workers[0].Signals == 4 })
	if got := fresh(t, base+"/workers"); got != "[4]" {
		t.Fatalf("uwsgi.workers()'s signals: %s, want [4]", got)
	}
}

// Workers running as another user (uid/gid drop) reach the signal
// socket in the runtime directory the master chowned to them.
func TestSignalsAsAnotherUser(t *testing.T) {
	parallel(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to start workers as nobody")
	}
	m, _, base := startSignalApp(t, 2, 1, "SIGAPP_TIMERS=1", "SIGAPP_FAST=1", "SIGAPP_SLOW=3\nuid = nobody\ngid = nogroup")
	for _, pid := range m.workerPids() {
		if uid, _ := procIDs(t, pid); uid != "65534" {
			t.Fatalf("worker %d runs as uid %s, want nobody", pid, uid)
		}
	}
	m.waitLog(`SIGEV kind=fast`, 2)
	fresh(t, base+"/raise?22")
	m.waitLog(`SIGEV kind=s22`, 1)
}

var sigev = regexp.MustCompile(`SIGEV kind=(\S+) sig=(\d+) wid=(\d+) pid=(\d+)`)

// events are the SIGEV lines logged so far: kind and worker id.
func events(lines []string) (out []string) {
	for _, l := range lines {
		if m := sigev.FindStringSubmatch(l); m != nil {
			out = append(out, m[1]+"@"+m[3])
		}
	}
	return out
}

func count(evs []string, kind string) (n int) {
	for _, e := range evs {
		if strings.HasPrefix(e, kind+"@") {
			n++
		}
	}
	return n
}

// Timers: every worker adds the app's timers (lazy), the master fires
// each on its period and routes it to one worker, round robin; the rb
// timer with 3 iterations stops after 3 per worker.
func TestSignalTimersFireOnTheirPeriod(t *testing.T) {
	m, _, _ := startSignalApp(t, 2, 1, "SIGAPP_TIMERS=1", "SIGAPP_FAST=1", "SIGAPP_SLOW=3")
	m.waitLog(`SIGEV kind=fast`, 24) // 12 seconds: two workers' 1 s timers
	evs := events(m.waitLog(`SIGEV`, 1))
	fast, slow, rb3 := count(evs, "fast"), count(evs, "slow"), count(evs, "rb3")
	// Two 3 s timers in the time two 1 s timers fired `fast` times.
	if lo, hi := fast/3-3, fast/3+3; slow < lo || slow > hi {
		t.Errorf("the 3 s timers fired %d times while the 1 s ones fired %d (want %d-%d)", slow, fast, lo, hi)
	}
	if rb3 != 6 {
		t.Errorf("add_rb_timer(40, 1, 3) in 2 workers fired %d times, want 6 (3 each)", rb3)
	}
	var fastOn []string
	for _, e := range evs {
		if strings.HasPrefix(e, "fast@") {
			fastOn = append(fastOn, e)
		}
	}
	w1, w2 := 0, 0
	for _, e := range fastOn {
		if e == "fast@1" {
			w1++
		} else {
			w2++
		}
	}
	if w1 == 0 || w2 == 0 {
		t.Errorf("timer signals to any worker were not spread: worker 1 got %d, worker 2 %d", w1, w2)
	}
}

// signal() from a worker: a signal the workers registered themselves
// (lazy) goes to one worker, as under uWSGI's lazy-apps; a raising
// handler is logged once with its traceback and the worker lives.
func TestSignalRaisedByAWorker(t *testing.T) {
	m, _, base := startSignalApp(t, 2, 1)
	pids := m.workerPids()
	fresh(t, base+"/raise?20")
	m.waitLog(`SIGEV kind=s20`, 1)
	for i := 1; i <= 2; i++ {
		fresh(t, base+"/raise?21")
		m.waitLog(`error managing signal 21 on worker \d: the handler raised`, i)
		m.waitLog(`RuntimeError: the handler of signal 21 raises`, i) // a traceback's last line
	}
	fresh(t, base+"/raise?20")
	m.waitLog(`SIGEV kind=s20`, 2)
	log := m.log()
	if n := strings.Count(log, "Traceback (most recent call last)"); n != 2 {
		t.Errorf("two raises of the handler logged %d tracebacks, want one each:\n%s", n, log)
	}
	if n := count(events(strings.Split(log, "\n")), "s20"); n != 2 {
		t.Errorf("two signal(20) reached %d handlers, want 2 (one worker each)", n)
	}
	for _, p := range pids {
		if !alive(p) {
			t.Errorf("worker %d died", p)
		}
	}
	if strings.Contains(log, "worker died") {
		t.Errorf("a worker died:\n%s", log)
	}
}

// signal_wait blocks a request until the worker receives the signal,
// runs its handler, and signal_received() names it.
func TestSignalWait(t *testing.T) {
	m, _, base := startSignalApp(t, 1, 2)
	waited := getAsync(base + "/wait?22")
	m.waitLog(`SIGEV kind=waiting`, 1) // the request is about to wait
	select {
	case r := <-waited:
		t.Fatalf("signal_wait returned before any signal: %+v", r)
	default:
	}
	fresh(t, base+"/raise?21") // another signal: the waiter keeps waiting for 22
	m.waitLog(`SIGEV kind=s21`, 1)
	select {
	case r := <-waited:
		t.Fatalf("signal_wait(22) returned on signal 21: %+v", r)
	default:
	}
	fresh(t, base+"/raise?22")
	r := <-waited
	if r.err != nil || r.code != 200 || r.body != `["", 22]` {
		t.Fatalf("signal_wait(22): %+v, want [\"\", 22] (b\"\" and signal_received() 22)", r)
	}
	m.waitLog(`SIGEV kind=s22`, 1)
}

// add_file_monitor: a change to the file routes its signal once.
func TestSignalFileMonitor(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	watched := filepath.Join(dir, "watched")
	writeFile(t, watched, "a")
	m, _, base := startSignalApp(t, 2, 1, "SIGAPP_WATCHED="+watched)
	fresh(t, base+"/pid") // both workers registered before ready
	if err := os.WriteFile(watched, []byte("b"), 0o644); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`SIGEV kind=filemon sig=0`, 1)
	os.Chmod(watched, 0o600)
	m.waitLog(`SIGEV kind=filemon sig=0`, 2)
}

// The uwsgi functions' bad input: the same exceptions, with the same
// messages, as uWSGI 2.0.21 raises for the same calls (checked against
// uWSGI in TestSignalsMatchUWSGI; here against the values it gave).
func TestSignalBadInput(t *testing.T) {
	parallel(t)
	_, _, base := startSignalApp(t, 1, 1)
	var got map[string][]any
	if err := json.Unmarshal([]byte(fresh(t, base+"/bad")), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"registered_str":       `["TypeError","'str' object cannot be interpreted as an integer"]`,
		"registered_99":        `["ok",null]`,
		"registered_276":       `["ok",true]`,
		"register_long_target": `["ValueError","unable to register signal"]`,
		"register_target_int":  `["TypeError","register_signal() argument 2 must be str, not int"]`,
		"timer_float":          `["TypeError","'float' object cannot be interpreted as an integer"]`,
		"cron_args":            `["TypeError","add_cron() takes exactly 6 arguments (4 given)"]`,
		"filemon_long":         `["ValueError","unable to add file monitor"]`,
		"received":             `["ok",0]`,
	}
	for k, w := range want {
		b, _ := json.Marshal(got[k])
		if string(b) != w {
			t.Errorf("%s: %s, want %s", k, b, w)
		}
	}
}

// The same app under uWSGI 2.0.21 (lazy-apps, the mode supervise's
// workers are in until they fork from a zygote): the bad-input answers
// are equal, signal(20) with target workers reaches one worker, and a
// file change one handler.
func TestSignalsMatchUWSGI(t *testing.T) {
	parallel(t)
	uwsgiBin := requireTool(t, "/usr/bin/uwsgi", "--plugins", "python3", "--version")
	requireUwsgidecorators(t)
	dir := shortTempDir(t)
	watched := filepath.Join(dir, "watched")
	writeFile(t, watched, "a")
	writeFile(t, filepath.Join(dir, "signalapp.py"), readFile(t, "testdata/signalapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	u := startUWSGI(t, uwsgiBin, dir, addr, "--plugins", "python3", "--master", "--processes", "2", "--lazy-apps",
		"--http-socket", addr, "--wsgi-file", "signalapp.py", "--disable-logging", "--env", "SIGAPP_WATCHED="+watched)
	logPath := u.Log
	base := "http://" + addr
	theirs := u.Get(t, base+"/bad")
	// Both uWSGI workers loaded the app (lazy): wait for the second's line.
	waitFileLine(t, logPath, `signum 22 registered \(wid: 2`)
	fresh(t, base+"/raise?20")
	// uWSGI's master adds a file monitor a worker asked for in its next
	// cycle (up to a second later) and says nothing: rewrite until a
	// change is seen.
	for deadline := time.Now().Add(30 * time.Second); ; {
		os.WriteFile(watched, []byte("b"), 0o644)
		if b, _ := os.ReadFile(logPath); strings.Contains(string(b), "SIGEV kind=filemon") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("uWSGI never ran the file monitor's handler")
		}
		time.Sleep(200 * time.Millisecond)
	}
	fresh(t, base+"/raise?22") // handled after signal 20: the log holds both when it appears
	waitFileLine(t, logPath, `SIGEV kind=s22`)
	u.Stop(t)
	uLog, _ := os.ReadFile(logPath)
	uEvents := events(strings.Split(string(uLog), "\n"))

	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nwsgi-file = signalapp.py\nprocesses = 2\nmaster = true\nlazy-apps = true\n"+
		"plugins = python3\ndisable-logging = true\nenv = SIGAPP_WATCHED=%s\n", addr, watched))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	m.waitLog(`all workers ready`, 1)
	ours := fresh(t, base+"/bad")
	fresh(t, base+"/raise?20")
	os.WriteFile(watched, []byte("c"), 0o644)
	m.waitLog(`SIGEV kind=filemon`, 1)
	fresh(t, base+"/raise?22")
	m.waitLog(`SIGEV kind=s22`, 1)
	sEvents := events(strings.Split(m.log(), "\n"))

	if ours != theirs {
		t.Errorf("bad input answers differ\n supervise %s\n uWSGI     %s", ours, theirs)
	}
	for _, kind := range []string{"s20", "s22"} {
		if u, s := count(uEvents, kind), count(sEvents, kind); u != s || u != 1 {
			t.Errorf("%s handlers run: uWSGI %d, supervise %d (want 1 each)", kind, u, s)
		}
	}
	// One rewrite of the file is two inotify events (truncate, write);
	// uWSGI routes one or two signals depending on when its master wakes,
	// supervise takes events a moment apart as one change.
	if s := count(sEvents, "filemon"); s != 1 {
		t.Errorf("filemon handlers run after one rewrite: supervise %d, want 1", s)
	}
}

// set_user_harakiri (uwsgidecorators' @harakiri): the master kills a
// worker whose request outruns the deadline the app set, without the
// harakiri option; a deadline set in a request that ended is void, as
// uWSGI resets it at the end of the request.
func TestUserHarakiri(t *testing.T) {
	parallel(t)
	m, _, base := startSignalApp(t, 1, 1)
	pid := fresh(t, base+"/pid")
	fresh(t, base+"/userharakiri?1")                     // ends at once: its deadline goes with it
	if got := fresh(t, base+"/sleep?2.5"); got != "ok" { // outlives that deadline
		t.Fatalf("a request after one that set a deadline: %q", got)
	}
	if got := fresh(t, base+"/pid"); got != pid {
		t.Fatalf("the worker was replaced (pid %s, was %s): a finished request's deadline killed it\n%s", got, pid, m.log())
	}
	c := &http.Client{Timeout: 60 * time.Second}
	if resp, err := c.Get(base + "/hang"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("the @harakiri(1) request answered: %d %s", resp.StatusCode, b)
	}
	m.waitLog(`HARAKIRI: the app's own deadline passed \(uwsgi.set_user_harakiri\)`, 1)
	m.waitLog(`spawned worker`, 2)
	if got := fresh(t, base+"/pid"); got == pid {
		t.Fatal("the worker that outran its deadline still serves")
	}
}

// Timer cadence side by side with uWSGI 2.0.21 --lazy-apps: the same
// app's timers (each worker adds its own) fire as often under both, rb
// timers stop after their iterations under both, and timer signals for
// any worker reach both workers under both.
func TestSignalTimerCadenceMatchesUWSGI(t *testing.T) {
	processTest(t)
	uwsgiBin := requireTool(t, "/usr/bin/uwsgi", "--plugins", "python3", "--version")
	requireUwsgidecorators(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "signalapp.py"), readFile(t, "testdata/signalapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	u := startUWSGI(t, uwsgiBin, dir, addr, "--plugins", "python3", "--master", "--processes", "2", "--lazy-apps",
		"--http-socket", addr, "--wsgi-file", "signalapp.py", "--disable-logging",
		"--env", "SIGAPP_TIMERS=1", "--env", "SIGAPP_FAST=1", "--env", "SIGAPP_SLOW=3")
	logPath := u.Log
	const window = 24 // fast timer signals: two workers' 1 s timers for 12 s
	waitFor(t, "uWSGI's timers", func() bool {
		b, _ := os.ReadFile(logPath)
		return count(events(strings.Split(string(b), "\n")), "fast") >= window
	})
	b, _ := os.ReadFile(logPath)
	u.Stop(t)
	uEv := firstFast(events(strings.Split(string(b), "\n")), window)

	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nwsgi-file = signalapp.py\nprocesses = 2\ndisable-logging = true\n"+
		"env = SIGAPP_TIMERS=1\nenv = SIGAPP_FAST=1\nenv = SIGAPP_SLOW=3\n", addr))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	m.waitLog(`SIGEV kind=fast`, window)
	sEv := firstFast(events(m.waitLog(`SIGEV`, 1)), window)

	t.Logf("in %d fast timer signals: uWSGI slow %d rb %d rb3 %d; supervise slow %d rb %d rb3 %d", window,
		count(uEv, "slow"), count(uEv, "rb"), count(uEv, "rb3"), count(sEv, "slow"), count(sEv, "rb"), count(sEv, "rb3"))
	if u, s := count(uEv, "slow"), count(sEv, "slow"); u-s > 2 || s-u > 2 {
		t.Errorf("3 s timers in the time of %d 1 s ones: uWSGI %d, supervise %d", window, u, s)
	}
	if u, s := count(uEv, "rb"), count(sEv, "rb"); u-s > 2 || s-u > 2 {
		t.Errorf("1 s rb timers in the time of %d 1 s timers: uWSGI %d, supervise %d", window, u, s)
	}
	if u, s := count(uEv, "rb3"), count(sEv, "rb3"); u != 6 || s != 6 {
		t.Errorf("add_rb_timer(40, 1, 3) in two workers: uWSGI %d, supervise %d (want 6 each)", u, s)
	}
	// uWSGI puts a signal for any worker on one pipe all its workers read,
	// so whichever wakes first takes it (in one CI run, worker 1 took all
	// 24); supervise's master hands them out in turn, so both get some.
	t.Logf("uWSGI's timer signals for any worker reached worker 1: %v, worker 2: %v", contains(uEv, "fast@1"), contains(uEv, "fast@2"))
	if !contains(sEv, "fast@1") || !contains(sEv, "fast@2") {
		t.Errorf("supervise: timer signals for any worker did not reach both workers: %v", sEv)
	}
}

// firstFast is evs up to the nth "fast" event.
func firstFast(evs []string, n int) []string {
	for i, e := range evs {
		if strings.HasPrefix(e, "fast@") {
			if n--; n == 0 {
				return evs[:i+1]
			}
		}
	}
	return evs
}
