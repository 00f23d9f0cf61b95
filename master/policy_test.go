package master

import (
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

func ready(m *Master, pid int) {
	m.step(event{Note: &ipc.Notification{PID: pid, Fields: map[string]string{"READY": "1"}}})
}

func TestHarakiriGracefulSignalsThenKills(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	plan.Harakiri, plan.HarakiriGrace, plan.HarakiriSignal = 10*time.Second, 5*time.Second, syscall.SIGUSR2
	board := newFakeBoard()
	m := newTestMaster(f, plan, nil, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	readyAll(m)
	hung := f.started[0]
	board.ages[0] = 11 * time.Second
	m.step(event{})
	if got := f.signals[hung]; len(got) != 1 || got[0] != syscall.SIGUSR2 {
		t.Fatalf("hung worker got %v, want harakiri-graceful-signal first", got)
	}
	if len(f.started) != 2 {
		t.Fatal("no replacement started while the hung worker gets its graceful timeout")
	}
	f.now = f.now.Add(4 * time.Second)
	m.step(event{})
	if len(f.signals[hung]) != 1 {
		t.Fatal("killed before harakiri-graceful-timeout ran out")
	}
	if d := m.nextWake(); d > time.Second {
		t.Fatalf("the loop sleeps %v past the graceful deadline", d)
	}
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if got := f.signals[hung]; len(got) != 2 || got[1] != syscall.SIGKILL {
		t.Fatalf("hung worker got %v, want SIGKILL after the timeout", got)
	}
	f.killed(hung)
	m.step(event{})
	if m.slotCopies()[0].Harakiris != 1 || len(f.started) != 2 {
		t.Fatalf("harakiris %d, started %d: want 1 and no second replacement", m.slotCopies()[0].Harakiris, len(f.started))
	}
}

func TestReloadOnRSSRetiresGracefullyAfterMinLifetime(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	plan.ReloadOnRSS, plan.MinLifetime = 100<<20, 10*time.Second
	m := newTestMaster(f, plan, nil, Hooks{})
	m.SetBoard(newFakeBoard())
	m.step(event{})
	readyAll(m)
	fat := f.started[0]
	f.rss[fat] = 150 << 20
	f.now = f.now.Add(5 * time.Second)
	m.step(event{})
	if len(f.started) != 1 {
		t.Fatal("recycled a worker younger than min-worker-lifetime")
	}
	f.now = f.now.Add(6 * time.Second)
	m.step(event{})
	if len(f.started) != 2 || len(f.signals[fat]) != 0 {
		t.Fatalf("started %d, signals %v: want a replacement and the old worker untouched until it is ready", len(f.started), f.signals[fat])
	}
	ready(m, f.started[1])
	if len(f.signals[fat]) != 0 {
		t.Fatal("the old worker was stopped before its replacement served a request or warmHandoff passed")
	}
	f.now = f.now.Add(warmHandoff) // no request came
	m.step(event{})
	if got := f.signals[fat]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("old worker got %v, want a graceful SIGTERM", got)
	}
}

func TestEvilReloadOnRSSKills(t *testing.T) {
	f := newFake()
	plan := testPlan(1)
	plan.ReloadOnRSS, plan.EvilReloadOnRSS = 100<<20, 200<<20
	m := newTestMaster(f, plan, nil, Hooks{})
	m.step(event{})
	readyAll(m)
	fat := f.started[0]
	f.rss[fat] = 250 << 20
	f.now = f.now.Add(time.Second)
	m.step(event{})
	if got := f.signals[fat]; len(got) != 1 || got[0] != syscall.SIGKILL {
		t.Fatalf("worker over evil-reload-on-rss got %v, want SIGKILL", got)
	}
	f.killed(fat)
	m.step(event{})
	if len(f.started) != 2 || m.slotCopies()[0].Failures != 0 {
		t.Fatalf("started %d failures %d: want one replacement without backoff", len(f.started), m.slotCopies()[0].Failures)
	}
}

// busy marks the scoreboard slots of the given slot ids' workers busy.
func setBusy(m *Master, board *fakeBoard, busy bool, ids ...int) {
	for _, id := range ids {
		w := m.slot(id).Current
		if busy {
			board.ages[w.BoardSlot] = time.Second
		} else {
			delete(board.ages, w.BoardSlot)
		}
	}
}

func tick(f *fakeOS, m *Master, seconds int) {
	for range seconds {
		f.now = f.now.Add(time.Second)
		m.step(event{})
		readyAll(m)
	}
}

func cheaperMaster(t *testing.T, algo string) (*fakeOS, *Master, *fakeBoard) {
	f := newFake()
	plan := testPlan(4)
	plan.Cheaper = CheaperPlan{Min: 1, Step: 2, Algo: algo, Overload: 2, BusynessMax: 50, BusynessMin: 25, Multiplier: 2}
	board := newFakeBoard()
	m := newTestMaster(f, plan, nil, Hooks{})
	m.SetBoard(board)
	m.step(event{})
	readyAll(m)
	if len(f.started) != 1 || m.activeSlots() != 1 {
		t.Fatalf("started %d active %d, want cheaper's 1", len(f.started), m.activeSlots())
	}
	if snap := m.Snapshot(); snap[3].PID != 0 || !snap[3].Cheap {
		t.Fatalf("a cheap slot shows as %+v, want pid 0 and cheap", snap[3])
	}
	return f, m, board
}

func TestCheaperSpareGrowsWhenAllBusyAndShrinksWhenIdle(t *testing.T) {
	f, m, board := cheaperMaster(t, "")
	setBusy(m, board, true, 1)
	tick(f, m, 2)
	if m.activeSlots() != 1 {
		t.Fatal("grew before cheaper-overload seconds of overload")
	}
	tick(f, m, 1)
	if m.activeSlots() != 3 || len(f.started) != 3 {
		t.Fatalf("active %d started %d after overload, want 1 + cheaper-step 2", m.activeSlots(), len(f.started))
	}
	setBusy(m, board, true, 2, 3)
	tick(f, m, 3)
	if m.activeSlots() != 4 {
		t.Fatalf("active %d, want the pool grown to processes", m.activeSlots())
	}
	setBusy(m, board, true, 4)
	tick(f, m, 5)
	if m.activeSlots() != 4 {
		t.Fatal("grew past processes")
	}
	setBusy(m, board, false, 1, 2, 3, 4)
	tick(f, m, 20)
	if m.activeSlots() != 1 {
		t.Fatalf("active %d after a long idle, want cheaper's 1", m.activeSlots())
	}
	for _, id := range []int{2, 3, 4} {
		if s := m.slot(id); !s.Cheap || s.Current != nil {
			t.Fatalf("slot %d not cheap after shrinking: %+v", id, s)
		}
	}
}

func TestCheaperSpareKeepsOneSpareWorker(t *testing.T) {
	f, m, board := cheaperMaster(t, algoSpare)
	m.Command('+')
	m.Command('+')
	tick(f, m, 1)
	setBusy(m, board, true, 1, 2)
	tick(f, m, 10)
	if m.activeSlots() != 3 {
		t.Fatalf("active %d, want 3: two busy and exactly one spare is steady", m.activeSlots())
	}
}

func TestCheaperBacklog(t *testing.T) {
	f, m, _ := cheaperMaster(t, algoBacklog)
	queue := 5
	m.plan.Cheaper.Backlog = func() int { return queue }
	tick(f, m, 1)
	if m.activeSlots() != 3 {
		t.Fatalf("active %d with a queue over cheaper-overload, want +step", m.activeSlots())
	}
	queue = 2
	tick(f, m, 1)
	if m.activeSlots() != 3 {
		t.Fatal("changed the pool with the queue at cheaper-overload")
	}
	queue = 0
	tick(f, m, 5)
	if m.activeSlots() != 1 {
		t.Fatalf("active %d with an empty queue, want back to cheaper", m.activeSlots())
	}
}

func TestCheaperBusyness(t *testing.T) {
	f, m, board := cheaperMaster(t, algoBusyness)
	tick(f, m, 1) // the first cycle starts
	w := m.slot(1).Current
	board.rt[w.BoardSlot] = 1500 * time.Millisecond // 75% of a 2 s cycle
	tick(f, m, 2)
	if m.activeSlots() != 3 {
		t.Fatalf("active %d at 75%% busy, want +step", m.activeSlots())
	}
	tick(f, m, 2)
	if m.activeSlots() != 3 {
		t.Fatal("shrank after one idle cycle; multiplier is 2")
	}
	tick(f, m, 2)
	if m.activeSlots() != 2 {
		t.Fatalf("active %d after two idle cycles, want one stopped", m.activeSlots())
	}
}

func TestCheaperFIFOAndManual(t *testing.T) {
	f, m, _ := cheaperMaster(t, algoManual)
	m.Command('+')
	tick(f, m, 1)
	if m.activeSlots() != 2 || len(f.started) != 2 {
		t.Fatalf("FIFO + gave %d active, want 2", m.activeSlots())
	}
	tick(f, m, 30)
	if m.activeSlots() != 2 {
		t.Fatal("the manual algorithm changed the pool on its own")
	}
	second := m.slot(2).Current.PID
	m.Command('-')
	if got := f.signals[second]; len(got) != 1 || got[0] != syscall.SIGTERM {
		t.Fatalf("FIFO - sent %v to worker 2, want a graceful stop", got)
	}
	m.Command('-')
	if m.activeSlots() != 1 {
		t.Fatal("FIFO - went below cheaper")
	}
}

func TestCheaperReloadReplacesOnlyActiveWorkers(t *testing.T) {
	f, m, _ := cheaperMaster(t, algoManual)
	m.Command('+')
	tick(f, m, 1)
	m.Command('c')
	for range 10 {
		tick(f, m, 1)
		for _, w := range m.liveWorkers() {
			if w.State == Stopping {
				f.exit(w.PID, 0)
			}
		}
	}
	if m.generation != 2 || m.activeSlots() != 2 || len(pidsOf(m, 2)) != 2 {
		t.Fatalf("after a chain reload: generation %d, active %d, new workers %v", m.generation, m.activeSlots(), pidsOf(m, 2))
	}
	if m.announced != 2 {
		t.Fatal("the new generation was never announced ready: cheap slots held it back")
	}
}

func TestCheaperSpareShrinksSoonAfterALongSpike(t *testing.T) {
	f, m, board := cheaperMaster(t, "")
	m.Command('+')
	m.Command('+')
	m.Command('+')
	tick(f, m, 1)
	setBusy(m, board, true, 1, 2, 3, 4)
	tick(f, m, 60) // a minute at processes, every worker busy
	setBusy(m, board, false, 1, 2, 3, 4)
	tick(f, m, 3+2)
	if m.activeSlots() >= 4 {
		t.Fatalf("active %d five seconds after a long spike ended; want shrinking under way", m.activeSlots())
	}
}
