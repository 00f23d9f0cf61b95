package main

// The reliability suite's small-bounds half (issue 9), run in CI; the
// larger run with figures is bench/reliability.sh.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/bench/chaos"
	"github.com/supervise-go/supervise/stats"
)

// fdsSettle waits until pid's open fds come back to want (connections
// close asynchronously) and returns the last count.
func fdsSettle(pid, want int) int {
	n := chaos.FDs(pid)
	for i := 0; i < 200 && n != want; i++ {
		time.Sleep(25 * time.Millisecond) // polling /proc: no event for a descriptor closing
		n = chaos.FDs(pid)
	}
	return n
}

func childFDs(pid int) int {
	n := 0
	for _, c := range chaos.LiveChildren(pid) {
		n += max(chaos.FDs(c), 0)
	}
	return n
}

var backoffLine = regexp.MustCompile(`.*backing off.*`)

func TestKillStormUnderLoadFailsOnlyWhatTheVictimsHeld(t *testing.T) {
	parallel(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, dir, sock := startEcho(t, "--processes", "3", "--stats", addr)
	base := startNginx(t, dir, "unix:"+sock)
	master := m.cmd.Process.Pid
	load := &chaos.Load{URL: base + "/pid", Clients: 8}
	load.Start()
	k := chaos.KillStorm{Master: master, Socket: sock, Stats: addr, Processes: 3,
		Every: 200 * time.Millisecond, For: 3 * time.Second, MinKills: 10, Settle: 30 * time.Second}.Run()
	res := load.Stop()
	t.Logf("%v; load: %v", k, res)
	if !k.MasterAlive || k.Kills < 10 || len(k.Errors) > 0 {
		t.Fatalf("storm: %v", k)
	}
	if res.Failed > int64(k.InFlight) {
		t.Fatalf("%d requests failed, but the %d killed workers held only %d: %v", res.Failed, k.Kills, k.InFlight, res.FirstError)
	}
	if res.OK == 0 {
		t.Fatal("nothing served during the storm")
	}
	if len(k.Zombies) > 0 {
		t.Fatalf("zombies left: %v", k.Zombies)
	}
	if k.SlowRespawns > 0 || k.SlowRefills > 0 {
		t.Logf("over a second after some kills: %d to replace, %d to be ready (a loaded machine?)", k.SlowRespawns, k.SlowRefills)
	}
	// Every victim was ready and died of SIGKILL: none was a failed start,
	// so no slot may back off.
	if l := backoffLine.FindString(m.log()); l != "" {
		t.Fatalf("a slot backed off during the storm: %s", l)
	}
	if code, _ := get(t, base+"/pid"); code != 200 {
		t.Fatal("not serving after the storm")
	}
}

func TestHostileInputToEveryListenerLeavesNoTrace(t *testing.T) {
	parallel(t)
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, _, sock := startEcho(t, "--stats", statsAddr, "--http-socket", httpAddr)
	master := m.cmd.Process.Pid
	workers := m.workerPids()
	uwsgiGet(t, sock, "/pid")
	// The baseline comes before the stats fetch: the stats server keeps a
	// connection open until the client's close reaches it (it drains what
	// the client sent), so a count taken just after could include it. And
	// after the start-up trim, which reads /proc/self/smaps through a file
	// of its own 2 s after the generation is ready: a count taken while it
	// runs includes that file.
	m.waitLog(`returned start-up memory: .*generation=1 `, 1)
	fds, kidFDs := chaos.FDs(master), childFDs(master)
	if _, _, err := stats.Fetch(statsAddr); err != nil {
		t.Fatal(err)
	}
	peak0 := chaos.PeakRSSKB(master)

	u, h, s := chaos.Target("unix:"+sock), chaos.Target(httpAddr), chaos.Target(statsAddr)
	for name, a := range map[string]func() chaos.Attack{
		"uwsgi random":    func() chaos.Attack { return chaos.RandomBytes(u, 50, 8) },
		"uwsgi malformed": func() chaos.Attack { return chaos.MalformedUwsgi(u, 70, 8) },
		"uwsgi tiny":      func() chaos.Attack { return chaos.Tiny(u, 2000, 16) },
		"http random":     func() chaos.Attack { return chaos.RandomBytes(h, 50, 8) },
		"http malformed":  func() chaos.Attack { return chaos.MalformedHTTP(h, 60, 8) },
		"http tiny":       func() chaos.Attack { return chaos.Tiny(h, 2000, 16) },
		"stats random":    func() chaos.Attack { return chaos.RandomBytes(s, 20, 4) },
		"stats tiny":      func() chaos.Attack { return chaos.Tiny(s, 200, 8) },
	} {
		t.Logf("%s: %v", name, a())
	}
	if !chaos.Alive(master) {
		t.Fatal("the master died")
	}
	if after := m.workerPids(); fmt.Sprint(after) != fmt.Sprint(workers) {
		t.Fatalf("workers changed under hostile input: %v -> %v\n%s", workers, after, m.log())
	}
	if got := fdsSettle(master, fds); got != fds {
		t.Fatalf("master fds %d -> %d after the attack", fds, got)
	}
	got := childFDs(master)
	for i := 0; i < 200 && got != kidFDs; i++ {
		time.Sleep(25 * time.Millisecond) // workers close their side asynchronously
		got = childFDs(master)
	}
	if got != kidFDs {
		t.Fatalf("workers' fds %d -> %d after the attack", kidFDs, got)
	}
	t.Logf("master peak RSS %d -> %d KiB", peak0, chaos.PeakRSSKB(master))
	// Bounded, not constant: the stats answers are built in memory (and
	// the race detector multiplies everything by five or so).
	if peak := chaos.PeakRSSKB(master); peak > 3*peak0 {
		t.Fatalf("master peak RSS grew from %d to %d KiB", peak0, peak)
	}
	if code, body := uwsgiGet(t, sock, "/pid"); code != 200 {
		t.Fatalf("normal request after the attack: %d %q", code, body)
	}
	if code, _ := get(t, "http://"+httpAddr+"/pid"); code != 200 { // last: it keeps its connection
		t.Fatal("http-socket request after the attack failed")
	}
}

func TestLogToDevFullKeepsSupervisingAndSaysSoOnce(t *testing.T) {
	parallel(t)
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	py := debianPython(t)
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "app.sock")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	m := startMaster(t, dir, "--socket", sock, "--module", "echo", "--processes", "2", "--python-bin", py,
		"--chdir", dir, "--stats", addr, "--logto", "/dev/full")
	pool := chaos.KillStorm{Master: m.cmd.Process.Pid, Stats: addr, Processes: 2}
	if err := pool.WaitFull(60 * time.Second); err != nil {
		t.Fatalf("%v\n%s", err, m.log())
	}
	m.waitLog(`cannot write the log`, 1)
	victim := chaos.LiveChildren(m.cmd.Process.Pid)[0]
	syscall.Kill(victim, syscall.SIGKILL)
	waitGone(t, []int{victim}, 10*time.Second)
	if err := pool.WaitFull(60 * time.Second); err != nil {
		t.Fatalf("no respawn with the log failing: %v", err)
	}
	before := chaos.LiveChildren(m.cmd.Process.Pid)
	m.signal(syscall.SIGHUP)
	waitGone(t, before, 60*time.Second) // the reload replaced both
	if err := pool.WaitFull(60 * time.Second); err != nil {
		t.Fatalf("no reload with the log failing: %v", err)
	}
	if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
		t.Fatal("not serving")
	}
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if n := strings.Count(m.log(), "cannot write the log"); n != 1 {
		t.Fatalf("the master said %d times that it cannot write the log, want once:\n%s", n, m.log())
	}
}

// Every way a master ends leaves no worker behind, within a second of
// the master's exit. (SIGKILL of the master: TestKill9OfTheMasterLeavesNoWorker.)
func TestEveryShutdownPathLeavesNoWorker(t *testing.T) {
	parallel(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			m, _, _ := startEcho(t)
			pids := m.workerPids()
			m.signal(sig)
			if code := m.waitExit(); code != 0 {
				t.Errorf("exit code %d after %v", code, sig)
			}
			waitGone(t, pids, time.Second)
			if z := chaos.Zombies(m.cmd.Process.Pid); len(z) > 0 {
				t.Fatalf("zombies %v", z)
			}
		})
	}
	t.Run("failed start", func(t *testing.T) {
		py := debianPython(t)
		dir := shortTempDir(t)
		writeFile(t, filepath.Join(dir, "broken.py"), "import no_such_module_here\n")
		m := startMaster(t, dir, "--socket", filepath.Join(dir, "s.sock"), "--module", "broken",
			"--need-app", "--processes", "3", "--python-bin", py, "--chdir", dir)
		m.waitLog(`spawned worker|started the zygote`, 1) // the zygote imports for the workers
		if code := m.waitExit(); code != 22 {
			t.Fatalf("exit code %d, want 22", code)
		}
		waitGone(t, append(spawnedPids(m), zygotePids(m)...), time.Second)
	})
	t.Run("socket in use", func(t *testing.T) {
		_, dir, sock := startEcho(t)
		m := startMaster(t, dir, "--socket", sock, "--module", "echo", "--python-bin", debianPython(t), "--chdir", dir)
		if code := m.waitExit(); code == 0 {
			t.Fatal("a second master on a busy socket exited 0")
		}
		if n := len(spawnedPids(m)); n != 0 {
			t.Fatalf("a master that could not bind started %d workers", n)
		}
	})
	t.Run("failed reload", func(t *testing.T) {
		m, _, _, ini := startWithBrokenModuleAside(t)
		writeFile(t, ini, strings.Replace(readFile(t, ini), "module = echo", "module = broken", 1))
		m.signal(syscall.SIGHUP)
		m.waitLog(`reload failed`, 1)
		m.signal(syscall.SIGTERM)
		if code := m.waitExit(); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		waitGone(t, spawnedPids(m), time.Second)
	})
}

// spawnedPids is every worker pid the master logged, alive or not.
func spawnedPids(m *masterProc) []int { return m.spawnedIn(0) }

// A master stopping while stats clients are being answered unmaps the
// scoreboard they read: it must wait for them, not fault.
func TestStopWhileStatsAreReadExitsCleanly(t *testing.T) {
	parallel(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			m, _, _ := startEcho(t, "--stats", addr)
			stop := make(chan struct{})
			done := make(chan struct{})
			for i := 0; i < 16; i++ {
				go func() {
					defer func() { done <- struct{}{} }()
					for {
						select {
						case <-stop:
							return
						default:
						}
						chaos.Target(addr).Dial() // open and drop: the server collects for each
					}
				}()
			}
			if _, _, err := stats.Fetch(addr); err != nil {
				t.Fatal(err)
			}
			m.signal(sig)
			code := m.waitExit()
			close(stop)
			for i := 0; i < 16; i++ {
				<-done
			}
			if code != 0 || strings.Contains(m.log(), "fatal error") {
				t.Fatalf("exit %d while stats were being read:\n%s", code, m.log())
			}
		})
	}
}
