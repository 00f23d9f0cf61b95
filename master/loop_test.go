package master

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/stats"
)

// fakeOS records what the loop does and lets tests decide what processes do.
type fakeOS struct {
	now      time.Time
	nextPID  int
	started  []int // pids in start order
	signals  map[int][]syscall.Signal
	exited   []Exit
	startErr error
	rss      map[int]uint64
}

func newFake() *fakeOS {
	return &fakeOS{now: time.Unix(1_700_000_000, 0), nextPID: 100, signals: map[int][]syscall.Signal{}, rss: map[int]uint64{}}
}

func (f *fakeOS) os() OS {
	return OS{
		Start: func(*ProcSpec) (int, error) {
			if f.startErr != nil {
				return 0, f.startErr
			}
			f.nextPID++
			f.started = append(f.started, f.nextPID)
			return f.nextPID, nil
		},
		Signal: func(pid int, sig syscall.Signal) error {
			f.signals[pid] = append(f.signals[pid], sig)
			return nil
		},
		Reap: func() []Exit {
			e := f.exited
			f.exited = nil
			return e
		},
		Now: func() time.Time { return f.now },
		RSS: func(pid int) (uint64, error) { return f.rss[pid], nil },
	}
}

func (f *fakeOS) exit(pid, code int) {
	f.exited = append(f.exited, Exit{PID: pid, Status: syscall.WaitStatus(code << 8)})
}

func (f *fakeOS) killed(pid int) {
	f.exited = append(f.exited, Exit{PID: pid, Status: syscall.WaitStatus(syscall.SIGKILL)})
}

func testPlan(n int) *Plan {
	return &Plan{Processes: n, Mercy: 5 * time.Second,
		Spec: func(SpawnInfo) (*ProcSpec, error) { return &ProcSpec{Path: "/bin/true"}, nil }}
}

func newTestMaster(f *fakeOS, plan *Plan, reload func() (*Plan, error), hooks Hooks) *Master {
	return New(hclog.NewNullLogger(), f.os(), plan, reload, hooks)
}

func readyAll(m *Master) {
	for _, w := range m.liveWorkers() {
		if w.State == Starting {
			m.step(event{Note: &ipc.Notification{PID: w.PID, Fields: map[string]string{"READY": "1"}}})
		}
	}
}

func pidsOf(m *Master, gen int) map[int]bool {
	out := map[int]bool{}
	for _, w := range m.liveWorkers() {
		if w.Generation == gen && w.State != Stopping {
			out[w.PID] = true
		}
	}
	return out
}

func TestSpawnsProcessesAndAnnouncesReady(t *testing.T) {
	f := newFake()
	readyGen := 0
	m := newTestMaster(f, testPlan(4), nil, Hooks{Ready: func(g int) { readyGen = g }})
	m.step(event{})
	if len(f.started) != 4 {
		t.Fatalf("started %d workers, want 4", len(f.started))
	}
	if readyGen != 0 {
		t.Fatal("announced ready before any worker said READY=1")
	}
	readyAll(m)
	if readyGen != 1 {
		t.Fatalf("ready hook got generation %d, want 1", readyGen)
	}
}

func TestCrashedWorkerIsRespawnedAtOnce(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	m.step(event{})
	readyAll(m)
	f.now = f.now.Add(time.Minute)
	victim := f.started[0]
	f.killed(victim)
	m.step(event{Signal: syscall.SIGCHLD})
	if len(f.started) != 3 {
		t.Fatalf("after a crash started %d workers in all, want 3", len(f.started))
	}
	if s := m.slotCopies()[0]; s.Current == nil || s.Current.PID == victim || s.Respawns != 2 {
		t.Fatalf("slot 1 not refilled: %+v", s)
	}
}

func TestFastDeathsBackOffWithoutSpinning(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.step(event{})
	var delays []time.Duration
	for i := 0; i < 8; i++ {
		f.exit(f.started[len(f.started)-1], 1)
		before := len(f.started)
		m.step(event{})
		var waited time.Duration
		for steps := 0; len(f.started) == before; steps++ {
			if steps == 100 {
				t.Fatalf("round %d: no respawn after %v", i, waited)
			}
			wait := m.nextWake()
			waited += wait
			f.now = f.now.Add(wait)
			m.step(event{})
		}
		delays = append(delays, waited)
	}
	if delays[0] != 0 || delays[1] != 100*time.Millisecond || delays[2] != 200*time.Millisecond {
		t.Fatalf("backoff delays %v, want 0, 100ms, 200ms, ...", delays)
	}
	for i := 2; i < len(delays); i++ {
		if delays[i] < delays[i-1] {
			t.Fatalf("backoff shrank: %v", delays)
		}
	}
}

func TestHealthyWorkerResetsBackoff(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.step(event{})
	for i := 0; i < 3; i++ { // three fast deaths
		f.exit(f.started[len(f.started)-1], 1)
		m.step(event{})
		f.now = f.now.Add(m.nextWake())
		m.step(event{})
	}
	readyAll(m)
	f.now = f.now.Add(time.Hour)
	f.killed(f.started[len(f.started)-1])
	before := len(f.started)
	m.step(event{})
	if len(f.started) != before+1 {
		t.Fatal("a worker that ran for an hour was not respawned at once")
	}
}

func TestGracefulShutdownKillsAfterMercy(t *testing.T) {
	f := newFake()
	stopping := false
	m := newTestMaster(f, testPlan(2), nil, Hooks{Stopping: func() { stopping = true }})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGTERM})
	if !stopping {
		t.Fatal("Stopping hook not called")
	}
	a, b := f.started[0], f.started[1]
	if got := f.signals[a]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("worker %d got %v, want SIGTERM", a, got)
	}
	f.exit(a, 0) // a finishes its requests
	f.now = f.now.Add(4 * time.Second)
	m.step(event{})
	if len(f.signals[b]) != 1 {
		t.Fatalf("killed before the mercy ran out: %v", f.signals[b])
	}
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if got := f.signals[b]; len(got) != 2 || got[1] != syscall.SIGKILL {
		t.Fatalf("after mercy worker got %v, want SIGTERM then SIGKILL", got)
	}
	if done, _ := m.finished(); done {
		t.Fatal("done before the last worker was reaped")
	}
	f.killed(b)
	m.step(event{})
	if done, code := m.finished(); !done || code != 0 {
		t.Fatalf("Done() = %v, %d; want true, 0", done, code)
	}
	if len(f.started) != 2 {
		t.Fatal("respawned a worker during shutdown")
	}
}

func TestImmediateShutdownKills(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	m.step(event{})
	m.step(event{Signal: syscall.SIGINT})
	for _, pid := range f.started {
		if got := f.signals[pid]; len(got) != 1 || got[0] != syscall.SIGKILL {
			t.Fatalf("worker %d got %v, want SIGKILL", pid, got)
		}
		f.killed(pid)
	}
	m.step(event{})
	if done, _ := m.finished(); !done {
		t.Fatal("not done after every worker was reaped")
	}
}

func TestNeedAppGivesUp(t *testing.T) {
	f := newFake()
	plan := testPlan(2)
	plan.NeedApp = true
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	f.exit(f.started[0], ipc.ExitAppLoadFailed)
	m.step(event{})
	f.killed(f.started[1])
	m.step(event{})
	done, code := m.finished()
	if !done || code != ipc.ExitAppLoadFailed {
		t.Fatalf("Done() = %v, %d; want true, %d", done, code, ipc.ExitAppLoadFailed)
	}
	if len(f.started) != 2 {
		t.Fatal("respawned after the app failed with need-app")
	}
}

func TestWithoutNeedAppAppFailureBacksOff(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.step(event{})
	for i := 0; i < 3; i++ {
		f.exit(f.started[len(f.started)-1], ipc.ExitAppLoadFailed)
		m.step(event{})
		f.now = f.now.Add(m.nextWake())
		m.step(event{})
	}
	if done, _ := m.finished(); done {
		t.Fatal("master gave up without need-app")
	}
	if m.nextWake() < 0 || len(f.started) != 4 {
		t.Fatalf("started %d, want 4", len(f.started))
	}
}

func TestStartErrorRetriesLater(t *testing.T) {
	f := newFake()
	f.startErr = errors.New("exec format error")
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.step(event{})
	if w := m.nextWake(); w < backoffFirst {
		t.Fatalf("retry after %v, want at least %v", w, backoffFirst)
	}
	f.startErr = nil
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if len(f.started) != 1 {
		t.Fatal("did not retry the start")
	}
}

func TestGracefulReloadReplacesEachWorkerOnlyWhenItsSuccessorIsReady(t *testing.T) {
	f := newFake()
	var gens []int
	reloading := 0
	m := newTestMaster(f, testPlan(3), func() (*Plan, error) { return testPlan(3), nil },
		Hooks{Ready: func(g int) { gens = append(gens, g) }, Reloading: func() { reloading++ }})
	m.step(event{})
	readyAll(m)
	old := pidsOf(m, 1)
	m.step(event{Signal: syscall.SIGHUP})
	if reloading != 1 || len(f.started) != 6 {
		t.Fatalf("reload: reloading=%d started=%d, want 1 and 6", reloading, len(f.started))
	}
	for pid := range old {
		if len(f.signals[pid]) != 0 {
			t.Fatal("an old worker was stopped before its successor was ready")
		}
	}
	newPid := f.started[3] // slot 1's successor
	m.step(event{Note: &ipc.Notification{PID: newPid, Fields: map[string]string{"READY": "1"}}})
	if got := f.signals[f.started[0]]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("slot 1's old worker got %v, want SIGTERM once its successor is ready", got)
	}
	if len(f.signals[f.started[1]]) != 0 {
		t.Fatal("slot 2's old worker stopped before its successor was ready")
	}
	readyAll(m)
	if len(gens) != 2 || gens[1] != 2 {
		t.Fatalf("ready generations %v, want [1 2]", gens)
	}
	for pid := range old {
		f.exit(pid, 0)
	}
	m.step(event{})
	if len(f.started) != 6 {
		t.Fatal("old workers' exits caused respawns")
	}
}

func TestFailedReloadKeepsTheOldGeneration(t *testing.T) {
	f := newFake()
	failed := -1
	m := newTestMaster(f, testPlan(2), func() (*Plan, error) { return testPlan(2), nil },
		Hooks{ReloadFailed: func(serving int, _ string) { failed = serving }})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGHUP})
	f.exit(f.started[2], ipc.ExitAppLoadFailed) // the new app does not import
	m.step(event{})
	if m.generation != 1 || failed != 1 {
		t.Fatalf("generation %d after a failed reload, ReloadFailed(%d); want 1 and 1", m.generation, failed)
	}
	if got := f.signals[f.started[3]]; len(got) != 1 || got[0] != syscall.SIGKILL {
		t.Fatalf("the other new worker got %v, want SIGKILL", got)
	}
	for _, pid := range f.started[:2] {
		if len(f.signals[pid]) != 0 {
			t.Fatal("an old worker was stopped by a failed reload")
		}
	}
	for _, s := range m.slotCopies() {
		if s.Current == nil || s.Current.Generation != 1 {
			t.Fatalf("slot %d not back on generation 1: %+v", s.ID, s.Current)
		}
	}
}

func TestReloadWithBadConfigChangesNothing(t *testing.T) {
	f := newFake()
	var reason string
	m := newTestMaster(f, testPlan(2), func() (*Plan, error) { return nil, errors.New("bad ini") },
		Hooks{ReloadFailed: func(_ int, why string) { reason = why }})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGHUP})
	if len(f.started) != 2 || m.generation != 1 {
		t.Fatal("a refused reload started workers")
	}
	if reason != "refused: bad ini" {
		t.Fatalf("ReloadFailed reason %q", reason)
	}
}

func TestScaleUpAndDown(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	m.step(event{})
	m.step(event{Signal: syscall.SIGTTIN})
	if len(f.started) != 3 {
		t.Fatalf("SIGTTIN: %d workers, want 3", len(f.started))
	}
	m.step(event{Signal: syscall.SIGTTOU})
	if got := f.signals[f.started[2]]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("SIGTTOU: the last worker got %v, want SIGTERM", got)
	}
	f.exit(f.started[2], 0)
	m.step(event{})
	if len(f.started) != 3 {
		t.Fatal("a scaled-down worker was respawned")
	}
}

func TestOrphansAreReapedSilently(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.step(event{})
	f.exit(4242, 0)
	m.step(event{})
	if len(f.started) != 1 || len(m.liveWorkers()) != 1 {
		t.Fatal("an unknown pid changed the pool")
	}
}

func TestSilentWorkerIsTakenAsReadyAfterTheTimeout(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	plan.ReadyTimeout = 3 * time.Second
	ready := 0
	m := newTestMaster(f, plan, nil, Hooks{Ready: func(int) { ready++ }})
	m.step(event{})
	if w := m.nextWake(); w > 3*time.Second {
		t.Fatalf("sleeps %v past the ready timeout", w)
	}
	f.now = f.now.Add(2 * time.Second)
	m.step(event{})
	if ready != 0 {
		t.Fatal("ready before the timeout")
	}
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if ready != 1 {
		t.Fatal("a silent worker was not taken as ready after ready-timeout")
	}
}

func TestChainReloadReplacesOneWorkerAtATime(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(3), func() (*Plan, error) { return testPlan(3), nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	old := append([]int(nil), f.started...)
	m.Command('c')
	m.step(event{})
	for slot := 0; slot < 3; slot++ {
		if len(f.started) != 3+slot+1 {
			t.Fatalf("slot %d: %d workers started in all, want %d (one extra at a time)", slot+1, len(f.started), 3+slot+1)
		}
		successor := f.started[len(f.started)-1]
		m.step(event{Note: &ipc.Notification{PID: successor, Fields: map[string]string{"READY": "1"}}})
		if got := f.signals[old[slot]]; len(got) != 1 || got[0] != syscall.SIGTERM {
			t.Fatalf("slot %d's old worker got %v once its successor was ready", slot+1, got)
		}
		if len(f.started) != 3+slot+1 {
			t.Fatal("the next slot started before the old worker exited")
		}
		f.exit(old[slot], 0)
		m.step(event{})
	}
	if len(f.started) != 6 || m.generation != 2 {
		t.Fatalf("started %d, generation %d", len(f.started), m.generation)
	}
}

// uwsgi.reload() from a respawned worker that serves before its READY=1
// reached the loop reloads; the same from a worker of the generation a
// reload is starting is ignored (it would start another reload).
func TestAppReloadFromAStartingWorker(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), func() (*Plan, error) { return testPlan(2), nil }, Hooks{})
	m.step(event{})
	readyAll(m)
	f.now = f.now.Add(time.Minute)
	f.killed(f.started[0])
	m.step(event{Signal: syscall.SIGCHLD})
	respawned := f.started[len(f.started)-1]
	command := func(pid int) {
		m.step(event{Note: &ipc.Notification{PID: pid, Fields: map[string]string{ipc.NotifyCommand: "r"}}})
	}
	command(respawned)
	if len(f.started) != 5 || m.generation != 2 {
		t.Fatalf("after uwsgi.reload() from the respawned worker: %d started, generation %d; want 5 and 2", len(f.started), m.generation)
	}
	command(f.started[len(f.started)-1])
	if len(f.started) != 5 || m.generation != 2 {
		t.Fatalf("uwsgi.reload() during the reload started another: %d started, generation %d", len(f.started), m.generation)
	}
}

func TestBrutalReloadKillsThenRespawns(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	m.step(event{})
	readyAll(m)
	m.Command('W')
	for _, pid := range f.started[:2] {
		if got := f.signals[pid]; len(got) != 1 || got[0] != syscall.SIGKILL {
			t.Fatalf("worker %d got %v, want SIGKILL", pid, got)
		}
		f.killed(pid)
	}
	m.step(event{})
	if len(f.started) != 4 || m.generation != 2 {
		t.Fatalf("started %d, generation %d", len(f.started), m.generation)
	}
}

func TestFIFOLetters(t *testing.T) {
	f := newFake()
	var statsLogged, reopened int
	reloads := 0
	m := newTestMaster(f, testPlan(1), func() (*Plan, error) { reloads++; return testPlan(1), nil },
		Hooks{StatsToLog: func([]stats.WorkerInfo) { statsLogged++ }, ReopenLog: func() { reopened++ }})
	m.step(event{})
	readyAll(m)
	m.Command('s')
	m.Command('l')
	m.Command('?')
	if statsLogged != 1 || reopened != 1 {
		t.Fatalf("s: %d, l: %d", statsLogged, reopened)
	}
	pid := f.started[0]
	m.Command('p')
	m.Command('p')
	if got := f.signals[pid]; len(got) != 2 || got[0] != syscall.SIGSTOP || got[1] != syscall.SIGCONT {
		t.Fatalf("p, p: worker got %v, want SIGSTOP then SIGCONT", got)
	}
	m.Command('p') // paused again: a shutdown must wake the workers to let them stop
	m.shutdown(true)
	if got := f.signals[pid]; len(got) != 5 || got[3] != syscall.SIGCONT || got[4] != syscall.SIGTERM {
		t.Fatalf("stop while paused: worker got %v, want ... SIGSTOP SIGCONT SIGTERM", got)
	}
	f, m = newFake(), nil
	m = newTestMaster(f, testPlan(1), func() (*Plan, error) { reloads++; return testPlan(1), nil },
		Hooks{StatsToLog: func([]stats.WorkerInfo) { statsLogged++ }, ReopenLog: func() { reopened++ }})
	m.step(event{})
	readyAll(m)
	m.Command('+')
	m.step(event{})
	if len(m.slotCopies()) != 2 {
		t.Fatal("+ did not add a worker")
	}
	m.Command('-')
	if len(m.slotCopies()) != 1 {
		t.Fatal("- did not remove a worker")
	}
	m.Command('w') // workers only: the configuration is not read again
	if reloads != 0 || m.generation != 2 {
		t.Fatalf("w: reloads %d generation %d", reloads, m.generation)
	}
	m.Command('r')
	if reloads != 1 || m.generation != 3 {
		t.Fatalf("r: reloads %d generation %d", reloads, m.generation)
	}
	m.Command('q')
	if done, _ := m.finished(); done {
		t.Fatal("done while workers drain")
	}
	m.Command('Q')
	for _, w := range m.liveWorkers() {
		if !w.Killed {
			t.Fatalf("Q left worker %d alive", w.PID)
		}
	}
}

// fakeBoard reports a request age per scoreboard slot.
type fakeBoard struct {
	next int
	ages map[int]time.Duration
	reqs map[int]uint64
	rt   map[int]time.Duration
	bad  map[int]error
}

func newFakeBoard() *fakeBoard {
	return &fakeBoard{ages: map[int]time.Duration{}, reqs: map[int]uint64{}, rt: map[int]time.Duration{}}
}

func (b *fakeBoard) RunningTime(slot int) time.Duration { return b.rt[slot] }
func (b *fakeBoard) Cores() int                         { return 1 }
func (b *fakeBoard) Check(slot, pid int) error          { return b.bad[slot] }
func (b *fakeBoard) CheckHeader() error                 { return nil }

func (b *fakeBoard) Acquire() int             { b.next++; return b.next - 1 }
func (b *fakeBoard) Release(int)              {}
func (b *fakeBoard) Take(int)                 {}
func (b *fakeBoard) Requests(slot int) uint64 { return b.reqs[slot] }
func (b *fakeBoard) Oldest(slot int) (time.Duration, string, bool) {
	age, ok := b.ages[slot]
	return age, "GET /hang", ok
}

func TestHarakiriKillsAndRespawnsAtOnce(t *testing.T) {
	f := newFake()
	plan := testPlan(2)
	plan.Harakiri = 30 * time.Second
	board := newFakeBoard()
	m := newTestMaster(f, plan, nil, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	readyAll(m)
	f.now = f.now.Add(time.Minute)
	board.ages[1] = 29 * time.Second
	m.step(event{})
	if len(f.signals[f.started[1]]) != 0 {
		t.Fatal("killed before the harakiri limit")
	}
	board.ages[1] = 31 * time.Second
	m.step(event{})
	if got := f.signals[f.started[1]]; len(got) != 1 || got[0] != syscall.SIGKILL {
		t.Fatalf("worker over the limit got %v, want SIGKILL", got)
	}
	delete(board.ages, 1)
	f.killed(f.started[1])
	m.step(event{})
	if len(f.started) != 3 {
		t.Fatal("the harakiri'd worker was not respawned at once")
	}
	if s := m.slotCopies()[1]; s.Harakiris != 1 {
		t.Fatalf("harakiri count %d", s.Harakiris)
	}
	if m.Snapshot()[1].HarakiriCount != 1 {
		t.Fatal("the snapshot does not carry the harakiri count")
	}
}

func TestMaxRequestsReplacesGracefully(t *testing.T) {
	f := newFake()
	plan := testPlan(2)
	plan.MaxRequests, plan.MaxRequestsDelta = 100, 10
	board := newFakeBoard()
	m := newTestMaster(f, plan, nil, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	readyAll(m)
	board.reqs[0] = 105 // worker 1's limit is 100 + 1*10
	m.step(event{})
	if len(f.started) != 2 {
		t.Fatal("replaced before max-requests + delta")
	}
	board.reqs[0] = 110
	m.step(event{})
	if len(f.started) != 3 {
		t.Fatalf("no replacement started at max-requests (started %d)", len(f.started))
	}
	old := f.started[0]
	if len(f.signals[old]) != 0 {
		t.Fatal("the old worker was stopped before its replacement was ready")
	}
	m.step(event{Note: &ipc.Notification{PID: f.started[2], Fields: map[string]string{"READY": "1"}}})
	if len(f.signals[old]) != 0 {
		t.Fatal("the old worker was stopped before its replacement served a request (handoff.go)")
	}
	board.reqs[2] = 1 // the replacement's first request
	m.step(event{})
	if got := f.signals[old]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("old worker got %v once its replacement served, want SIGTERM", got)
	}
	m.step(event{})
	if len(f.started) != 3 {
		t.Fatal("started more than one replacement")
	}
}

// A worker that served requests proved the app works: killed from outside
// (OOM killer, an operator, a chaos test) it is respawned at once however
// young it was, so a kill every 200 ms never leaves a slot empty for long.
func TestWorkerThatServedRequestsIsRespawnedAtOnceEvenYoung(t *testing.T) {
	f := newFake()
	board := &fakeBoard{ages: map[int]time.Duration{}, reqs: map[int]uint64{}}
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	for i := 0; i < 6; i++ {
		readyAll(m)
		w := m.slotCopies()[0].Current
		board.reqs[w.BoardSlot] = 3
		f.now = f.now.Add(300 * time.Millisecond)
		f.killed(w.PID)
		before := len(f.started)
		m.step(event{Signal: syscall.SIGCHLD})
		if len(f.started) != before+1 {
			t.Fatalf("kill %d: a worker that had served requests was not respawned at once", i+1)
		}
	}
	// One that never served a request, dying young on its own, backs off.
	readyAll(m)
	f.now = f.now.Add(300 * time.Millisecond)
	f.exit(m.slotCopies()[0].Current.PID, 1)
	m.step(event{Signal: syscall.SIGCHLD})
	if s := m.slotCopies()[0]; s.Current != nil || s.Failures != 2 {
		t.Fatalf("young workers that served nothing: slot %+v, want a backoff", s)
	}
}

// SIGKILL never comes from the app's own crash: a ready worker killed by
// it (OOM killer, kill -9, a chaos test) did not fail to start, even if
// it was young and had no request yet (under light load the kernel hands
// new connections to the workers that waited longest).
func TestReadyWorkerKilledBySIGKILLIsRespawnedAtOnce(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(1), nil, Hooks{})
	m.SetBoard(&fakeBoard{ages: map[int]time.Duration{}, reqs: map[int]uint64{}})
	m.step(event{})
	for i := 0; i < 6; i++ {
		readyAll(m)
		f.now = f.now.Add(100 * time.Millisecond)
		f.killed(m.slotCopies()[0].Current.PID)
		before := len(f.started)
		m.step(event{Signal: syscall.SIGCHLD})
		if len(f.started) != before+1 {
			t.Fatalf("kill %d: a ready worker killed by SIGKILL was not respawned at once", i+1)
		}
	}
	// Killed before it was ready, it is a failed start like any other.
	f.now = f.now.Add(100 * time.Millisecond)
	f.killed(m.slotCopies()[0].Current.PID)
	m.step(event{Signal: syscall.SIGCHLD})
	if s := m.slotCopies()[0]; s.Current != nil || s.Failures != 2 {
		t.Fatalf("a worker killed while starting: slot %+v, want a backoff", s)
	}
}

func TestUnknownFIFOBytesWarnAtMostOnceASecond(t *testing.T) {
	f := newFake()
	var buf strings.Builder
	m := New(hclog.New(&hclog.LoggerOptions{Output: &buf}), f.os(), testPlan(1), nil, Hooks{})
	for _, c := range []byte("xyz0123456789") {
		m.Command(c)
	}
	if n := strings.Count(buf.String(), "unknown master FIFO command"); n != 1 {
		t.Fatalf("13 unknown bytes in a burst logged %d warnings, want 1:\n%s", n, buf.String())
	}
	f.now = f.now.Add(time.Second)
	m.Command('x')
	if n := strings.Count(buf.String(), "unknown master FIFO command"); n != 2 || !strings.Contains(buf.String(), "ignored_since_last_warning=12") {
		t.Fatalf("a second later: %d warnings, want 2 counting the 12 ignored:\n%s", n, buf.String())
	}
}

// logrotate's postrotate sends SIGHUP: the log is reopened before the
// reload, even one the new configuration makes fail; SIGIO reopens it
// without a reload.
func TestReloadAndSIGIOReopenTheLog(t *testing.T) {
	f := newFake()
	reopened, reloads := 0, 0
	m := newTestMaster(f, testPlan(1), func() (*Plan, error) {
		reloads++
		if reloads == 2 {
			return nil, errors.New("bad config")
		}
		return testPlan(1), nil
	}, Hooks{ReopenLog: func() { reopened++ }})
	m.step(event{})
	readyAll(m)
	m.step(event{Signal: syscall.SIGHUP})
	if reopened != 1 || reloads != 1 {
		t.Fatalf("SIGHUP: reopened %d, reloads %d; want 1, 1", reopened, reloads)
	}
	readyAll(m)
	m.step(event{Signal: syscall.SIGHUP}) // refused reload
	if reopened != 2 {
		t.Fatalf("refused reload: reopened %d, want 2", reopened)
	}
	m.step(event{Signal: syscall.SIGIO})
	if reopened != 3 || reloads != 2 {
		t.Fatalf("SIGIO: reopened %d, reloads %d; want 3, 2", reopened, reloads)
	}
}
