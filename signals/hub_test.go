package signals

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/ipc"
)

func TestCronMatchesAsUWSGI(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	// 2026-03-02 is a Monday (weekday 1); 2026-03-01 a Sunday.
	cases := []struct {
		cron Cron
		when string
		want bool
	}{
		{Cron{-1, -1, -1, -1, -1}, "2026-03-02 10:17", true},  // every minute
		{Cron{30, 10, -1, -1, -1}, "2026-03-02 10:30", true},  // 10:30 daily
		{Cron{30, 10, -1, -1, -1}, "2026-03-02 10:31", false}, //
		{Cron{30, 10, -1, -1, -1}, "2026-03-02 11:30", false}, //
		{Cron{-5, -1, -1, -1, -1}, "2026-03-02 10:15", true},  // */5
		{Cron{-5, -1, -1, -1, -1}, "2026-03-02 10:17", false}, //
		{Cron{0, -2, -1, -1, -1}, "2026-03-02 14:00", true},   // every 2 hours
		{Cron{0, -2, -1, -1, -1}, "2026-03-02 13:00", false},  //
		{Cron{0, 0, 1, -1, -1}, "2026-03-01 00:00", true},     // day 1
		{Cron{0, 0, 1, -1, -1}, "2026-03-02 00:00", false},    //
		{Cron{0, 0, -1, 3, -1}, "2026-03-02 00:00", true},     // March (months from 1)
		{Cron{0, 0, -1, 2, -1}, "2026-03-02 00:00", false},    //
		{Cron{0, 0, -1, -3, -1}, "2026-03-02 00:00", true},    // every 3rd month: 3 % 3 == 0
		{Cron{0, 0, -1, -1, 1}, "2026-03-02 00:00", true},     // Monday
		{Cron{0, 0, -1, -1, 7}, "2026-03-01 00:00", true},     // 7 is Sunday too
		{Cron{0, 0, -1, -1, 0}, "2026-03-01 00:00", true},     // Sunday
		{Cron{0, 0, 15, -1, 1}, "2026-03-02 00:00", true},     // day 15 OR Monday
		{Cron{0, 0, 15, -1, 1}, "2026-03-03 00:00", false},    // neither
		{Cron{0, 0, 3, -1, 1}, "2026-03-03 00:00", true},      // the 3rd (a Tuesday)
		{Cron{-1, -1, -1, -1, -2}, "2026-03-03 09:09", true},  // even weekday: Tuesday = 2
		{Cron{-1, -1, -1, -1, -2}, "2026-03-02 09:09", false}, // Monday = 1
		{Cron{59, 23, 31, 12, -1}, "2026-12-31 23:59", true},  // the last minute of the year
		{Cron{59, 23, 31, 12, -1}, "2026-12-31 23:58", false}, //
	}
	for _, c := range cases {
		if got := c.cron.Matches(at(c.when)); got != c.want {
			t.Errorf("%+v at %s: %v, want %v", c.cron, c.when, got, c.want)
		}
	}
}

// fakeHub is a hub with recorded deliveries and a log to read.
type fakeHub struct {
	*Hub
	got []string // "role id: sig"
	log *strings.Builder
}

func newFakeHub(processes int) *fakeHub {
	var b strings.Builder
	log := hclog.New(&hclog.LoggerOptions{Output: &b, Level: hclog.Debug})
	f := &fakeHub{log: &b}
	f.Hub = NewHub(log, nil, func() int { return processes })
	return f
}

func (f *fakeHub) proc(role string, id, gen int) *Proc {
	p := &Proc{Role: role, ID: id, Gen: gen}
	p.Send = func(sig uint8) error {
		f.got = append(f.got, fmt.Sprintf("%s%d/%d:%d", role, id, gen, sig))
		return nil
	}
	f.Hello(p)
	return p
}

func (f *fakeHub) take() string {
	s := strings.Join(f.got, " ")
	f.got = nil
	return s
}

func TestTargetsReachTheirProcesses(t *testing.T) {
	h := newFakeHub(3)
	z := h.proc(ipc.RoleZygote, 0, 1)
	w1, w2 := h.proc(ipc.RoleWorker, 1, 1), h.proc(ipc.RoleWorker, 2, 1)
	h.proc(ipc.RoleWorker, 3, 1)
	h.proc(ipc.RoleMule, 1, 1)
	for sig, target := range map[int]string{1: "workers", 2: "worker2", 3: "", 4: "worker", 5: "mules", 6: "mule", 7: "spooler", 8: "worker9", 9: "bogus", 10: "active-workers", 11: "mule3"} {
		if r := h.Handle(z, fmt.Sprintf("register %d %s", sig, target), time.Now()); r != ipc.SignalOK {
			t.Fatalf("register %d %q: %s", sig, target, r)
		}
	}
	check := func(sig uint8, want string) {
		t.Helper()
		h.Route(sig)
		if got := h.take(); got != want {
			t.Errorf("signal %d: delivered %q, want %q", sig, got, want)
		}
	}
	check(1, "worker1/1:1 worker2/1:1 worker3/1:1")
	check(10, "worker1/1:10 worker2/1:10 worker3/1:10")
	check(2, "worker2/1:2")
	check(3, "worker1/1:3") // any worker: round robin
	check(3, "worker2/1:3")
	check(4, "worker3/1:4")
	check(5, "mule1/1:5")
	check(6, "mule1/1:6")
	check(12, "worker1/1:12") // unregistered in the master's table: any worker
	check(7, "")              // no spooler: logged
	check(8, "")              // worker9 of 3: invalid
	check(9, "")
	check(11, "")
	for _, line := range []string{"could not deliver signal 7 to the spooler", "invalid signal target: worker9",
		"UNSUPPORTED SIGNAL TARGET: bogus", "invalid signal target: mule3"} {
		if !strings.Contains(h.log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, h.log)
		}
	}
	// A worker gone: "workers" reports it as uWSGI reports each worker's
	// pipe it cannot write; during a reload the newer generation's
	// worker 1 gets what worker 1 gets.
	h.Gone(w2)
	h.proc(ipc.RoleWorker, 1, 2)
	check(1, "worker1/2:1 worker3/1:1")
	if !strings.Contains(h.log.String(), "could not deliver signal 1 to worker 2") {
		t.Errorf("a missing worker was not reported:\n%s", h.log)
	}
	h.Gone(w1)
	check(2, "")
}

func TestTheMasterTableTakesASignalOnce(t *testing.T) {
	h := newFakeHub(1)
	z := h.proc(ipc.RoleZygote, 0, 1)
	now := time.Now()
	if r := h.Handle(z, "register 5 workers", now); r != ipc.SignalOK {
		t.Fatal(r)
	}
	if r := h.Handle(z, "register 5 worker", now); !strings.HasPrefix(r, ipc.SignalErr) {
		t.Errorf("a second registration of 5 as the master: %q, want an error (uWSGI refuses it)", r)
	}
	w := h.proc(ipc.RoleWorker, 1, 1)
	if r := h.Handle(w, "register 6 workers", now); !strings.HasPrefix(r, ipc.SignalErr) {
		t.Errorf("a worker wrote the master's table: %q", r)
	}
	if r := h.Handle(w, "register 6 "+strings.Repeat("x", 64), now); !strings.HasPrefix(r, ipc.SignalErr) {
		t.Errorf("a 64-byte target: %q", r)
	}
	// A rebuilt zygote of the same generation registers again: allowed.
	h.proc(ipc.RoleZygote, 0, 1)
	if r := h.Handle(z, "register 5 workers", now); r != ipc.SignalOK {
		t.Errorf("a rebuilt zygote's registration: %q", r)
	}
	for _, bad := range []string{"timer 256 1", "timer -1 1", "timer 1", "cron 1 2 3", "signal x", "filemon 3", "nonsense 1"} {
		if r := h.Handle(w, bad, now); !strings.HasPrefix(r, ipc.SignalErr) {
			t.Errorf("%q: %q, want an error", bad, r)
		}
	}
}

// Timers fire on the fake clock at their period, rb timers stop after
// their iterations, and a lazy worker's timers go with its connection.
func TestTimersFollowTheClock(t *testing.T) {
	h := newFakeHub(1)
	w := h.proc(ipc.RoleWorker, 1, 1)
	t0 := time.Date(2026, 3, 2, 10, 0, 30, 0, time.Local)
	for _, req := range []string{"timer 1 2", "rbtimer 2 3 2", "timer 3 0"} {
		if r := h.Handle(w, req, t0); r != ipc.SignalOK {
			t.Fatalf("%s: %s", req, r)
		}
	}
	var fired []string
	for s := 1; s <= 10; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		h.Tick(now)
		if got := h.take(); got != "" {
			fired = append(fired, fmt.Sprintf("%d:%s", s, got))
		}
	}
	want := "2:worker1/1:1 3:worker1/1:2 4:worker1/1:1 6:worker1/1:1 worker1/1:2 8:worker1/1:1 10:worker1/1:1"
	if got := strings.Join(fired, " "); got != want {
		t.Errorf("fired %q\nwant  %q", got, want)
	}
	if next := h.NextWake(t0.Add(10 * time.Second)); !next.Equal(t0.Add(12 * time.Second)) {
		t.Errorf("next wake %v, want +12s", next.Sub(t0))
	}
	// A master that slept through three periods fires once, as a
	// timerfd read does, and keeps the phase.
	h.Tick(t0.Add(17 * time.Second))
	if got := h.take(); got != "worker1/1:1" {
		t.Errorf("late tick: %q", got)
	}
	if next := h.NextWake(t0.Add(17 * time.Second)); !next.Equal(t0.Add(18 * time.Second)) {
		t.Errorf("after a late tick the next wake is %v, want +18s", next.Sub(t0))
	}
	h.Gone(w)
	w2 := h.proc(ipc.RoleWorker, 1, 1)
	_ = w2
	h.Tick(t0.Add(30 * time.Second))
	if got := h.take(); got != "" {
		t.Errorf("a gone worker's timer fired: %q", got)
	}
}

func TestTimerTablesAreBounded(t *testing.T) {
	h := newFakeHub(1)
	z := h.proc(ipc.RoleZygote, 0, 1)
	now := time.Now()
	for i := 0; i < ipc.MaxSignalTimers; i++ {
		if r := h.Handle(z, "timer 1 5", now); r != ipc.SignalOK {
			t.Fatalf("timer %d: %s", i, r)
		}
	}
	if r := h.Handle(z, "timer 1 5", now); !strings.HasPrefix(r, ipc.SignalErr) {
		t.Errorf("timer 65: %q, want uWSGI's refusal", r)
	}
	if r := h.Handle(z, "rbtimer 1 5 0", now); r != ipc.SignalOK {
		t.Errorf("rb timers have their own table: %q", r)
	}
	if !strings.Contains(h.log.String(), "you can register max 64 timers !!!") {
		t.Errorf("log: %s", h.log)
	}
	// A reload's new zygote replaces the old one's timers.
	h.proc(ipc.RoleZygote, 0, 2)
	if len(h.timers) != 0 {
		t.Errorf("the new generation's zygote left %d old timers", len(h.timers))
	}
}

func TestCronsFireOncePerMatchingMinute(t *testing.T) {
	h := newFakeHub(1)
	z := h.proc(ipc.RoleZygote, 0, 1)
	h.proc(ipc.RoleWorker, 1, 1)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.Local)
	if r := h.Handle(z, "cron 7 -2 -1 -1 -1 -1", t0); r != ipc.SignalOK {
		t.Fatal(r)
	}
	if r := h.Handle(z, "cron 8 3 10 -1 -1 1", t0); r != ipc.SignalOK { // 10:03 on Mondays
		t.Fatal(r)
	}
	var fired []string
	for s := 0; s < 6*60; s += 7 { // ticks every 7 seconds for 6 minutes
		now := t0.Add(time.Duration(s) * time.Second)
		h.Tick(now)
		if got := h.take(); got != "" {
			fired = append(fired, now.Format("15:04:05")+"="+got)
		}
	}
	want := "10:00:00=worker1/1:7 10:02:06=worker1/1:7 10:03:02=worker1/1:8 10:04:05=worker1/1:7"
	if got := strings.Join(fired, " "); got != want {
		t.Errorf("crons fired %q\nwant %q", got, want)
	}
	if next := h.NextWake(t0.Add(90 * time.Second)); !next.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("with crons the hub wakes at the next minute, got %v", next.Sub(t0))
	}
}

type fakeWatcher struct{ watched map[string]int }

func (w *fakeWatcher) Watch(path string) (int, error) {
	if strings.Contains(path, "missing") {
		return -1, fmt.Errorf("no such file")
	}
	if wd, ok := w.watched[path]; ok {
		return wd, nil
	}
	w.watched[path] = len(w.watched) + 1
	return w.watched[path], nil
}
func (w *fakeWatcher) Unwatch(wd int) {
	for p, d := range w.watched {
		if d == wd {
			delete(w.watched, p)
		}
	}
}

func TestFileMonitorsRouteAndGoWithTheirOwner(t *testing.T) {
	h := newFakeHub(1)
	fw := &fakeWatcher{watched: map[string]int{}}
	h.watcher = fw
	w := h.proc(ipc.RoleWorker, 1, 1)
	now := time.Now()
	if r := h.Handle(w, "filemon 4 /tmp/a file", now); r != ipc.SignalOK {
		t.Fatal(r)
	}
	if r := h.Handle(w, "filemon 5 /tmp/missing", now); r != ipc.SignalOK { // uWSGI accepts and logs
		t.Fatal(r)
	}
	if r := h.Handle(w, "filemon 4 /tmp/a file", now); r != ipc.SignalOK { // a second lazy worker's
		t.Fatal(r)
	}
	h.FileChanged(fw.watched["/tmp/a file"])
	if got := h.take(); got != "worker1/1:4" {
		t.Errorf("file change delivered %q", got)
	}
	if !strings.Contains(h.log.String(), "cannot monitor file") {
		t.Errorf("a missing file was not logged:\n%s", h.log)
	}
	h.Gone(w)
	if len(fw.watched) != 0 {
		t.Errorf("watches left after the owner went: %v", fw.watched)
	}
}
