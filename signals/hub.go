// Package signals is the master's side of uWSGI signals: the table of
// targets a zygote registered, the clocks (timers, rb timers, crons,
// file monitors) and the routing of each raised signal to the processes
// its target names. Hub is the state, driven by one goroutine with an
// injected clock (unit tests use fake time); Server (server.go) wires it
// to the signal socket and inotify. The Python side is
// worker/python/uwsgi_signals.py; docs/contract.md has the messages.
package signals

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/ipc"
)

// Proc is one connected process, as its hello named it.
type Proc struct {
	Role    string
	ID, Gen int
	PID     int
	seq     uint64 // connection order: the newest process of an id wins
	// Send delivers a signal (the server writes "sig N"); an error is
	// logged as uWSGI logs an undeliverable signal.
	Send func(sig uint8) error
}

// owner says whose an entry is: a process (removed with its
// connection: a lazy worker's timers) or a zygote's generation (kept
// until a zygote of the same or a newer generation says hello).
type owner struct {
	proc *Proc
	zgen int
}

type timer struct {
	owner
	sig        uint8
	every      time.Duration
	next       time.Time
	iterations int // rb timers: how many times, 0 = forever
	done       int
	rb         bool
}

type cronEntry struct {
	owner
	sig  uint8
	cron Cron
	last time.Time // uWSGI fires an entry at most once a minute
}

type fileMon struct {
	owner
	sig  uint8
	path string
	wd   int
}

// Watcher is the file-monitor seam: inotify in Server, a fake in tests.
type Watcher interface {
	Watch(path string) (wd int, err error)
	Unwatch(wd int)
}

// Hub holds the signal state. Only one goroutine calls its methods.
type Hub struct {
	log   hclog.Logger
	procs map[*Proc]bool
	seq   uint64
	// table is the master's: what a zygote registered (uWSGI's table of
	// wid 0). Workers' own registrations stay in the workers, as in
	// uWSGI's lazy-apps mode, so their signals go to any worker.
	table    map[uint8]string
	tableGen int
	timers   []*timer
	crons    []*cronEntry
	fmons    []*fileMon
	rr       map[string]int // round robin for "any process of a role"
	watcher  Watcher
	// Processes is how many workers are configured (workerN above it is
	// an invalid target; "workers" reports each one missing).
	Processes func() int
	lastCron  time.Time // the minute crons were last checked
	// Routed and Unrouted count deliveries, as uWSGI's routed_signals
	// and unrouted_signals.
	Routed, Unrouted uint64
}

// NewHub makes an empty hub; watcher may be nil (file monitors then fail).
func NewHub(log hclog.Logger, watcher Watcher, processes func() int) *Hub {
	return &Hub{log: log, procs: map[*Proc]bool{}, table: map[uint8]string{}, rr: map[string]int{},
		watcher: watcher, Processes: processes}
}

// Hello adds a connected process. A zygote's hello replaces what the
// zygotes of its generation and older ones registered: a rebuilt zygote
// registers everything again, a reload's new one registers its code's.
func (h *Hub) Hello(p *Proc) {
	h.seq++
	p.seq = h.seq
	h.procs[p] = true
	if p.Role == ipc.RoleZygote {
		h.dropIf(func(o owner) bool { return o.zgen > 0 && o.zgen <= p.Gen })
		if p.Gen >= h.tableGen {
			h.table, h.tableGen = map[uint8]string{}, p.Gen
		}
	}
}

// Gone forgets a process whose connection closed, and what it owned
// (a zygote's entries stay for its generation's workers).
func (h *Hub) Gone(p *Proc) {
	delete(h.procs, p)
	if p.Role != ipc.RoleZygote {
		h.dropIf(func(o owner) bool { return o.proc == p })
	}
}

func (h *Hub) dropIf(drop func(owner) bool) {
	keptT := h.timers[:0]
	for _, t := range h.timers {
		if !drop(t.owner) {
			keptT = append(keptT, t)
		}
	}
	h.timers = keptT
	keptC := h.crons[:0]
	for _, c := range h.crons {
		if !drop(c.owner) {
			keptC = append(keptC, c)
		}
	}
	h.crons = keptC
	keptF := h.fmons[:0]
	for _, f := range h.fmons {
		if !drop(f.owner) {
			keptF = append(keptF, f)
		} else if h.watcher != nil && f.wd >= 0 && !h.watched(f.wd, keptF) {
			h.watcher.Unwatch(f.wd)
		}
	}
	h.fmons = keptF
}

func (h *Hub) watched(wd int, except []*fileMon) bool {
	for _, f := range except {
		if f.wd == wd {
			return true
		}
	}
	return false
}

func (h *Hub) ownerOf(p *Proc) owner {
	if p.Role == ipc.RoleZygote {
		return owner{zgen: p.Gen}
	}
	return owner{proc: p}
}

// Handle runs one request from p and returns the reply, "" for none.
func (h *Hub) Handle(p *Proc, msg string, now time.Time) string {
	verb, rest, _ := strings.Cut(msg, " ")
	if verb == ipc.SignalFileMon { // the path may hold spaces
		sigText, path, _ := strings.Cut(rest, " ")
		sig, err := parseSig(sigText)
		if err != nil || path == "" {
			return errReply("filemon: want SIG PATH")
		}
		return h.addFileMon(p, sig, path)
	}
	f := strings.Fields(rest)
	nums := make([]int, len(f))
	for i, s := range f {
		if verb == ipc.SignalRegister && i == 1 {
			break
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			return errReply(fmt.Sprintf("%s: %q is not a number", verb, s))
		}
		nums[i] = n
	}
	want := map[string]int{ipc.SignalRaise: 1, ipc.SignalTimer: 2, ipc.SignalRBTimer: 3, ipc.SignalCron: 6}
	if n, ok := want[verb]; ok && (len(f) != n || nums[0] < 0 || nums[0] > 255) {
		return errReply(fmt.Sprintf("%s: want %d numbers, the first a signal 0-255", verb, n))
	}
	switch verb {
	case ipc.SignalRaise:
		h.Route(uint8(nums[0]))
		return ""
	case ipc.SignalRegister:
		return h.register(p, f)
	case ipc.SignalTimer:
		return h.addTimer(p, uint8(nums[0]), nums[1], 0, false, now)
	case ipc.SignalRBTimer:
		return h.addTimer(p, uint8(nums[0]), nums[1], nums[2], true, now)
	case ipc.SignalCron:
		if len(h.crons) >= ipc.MaxSignalCrons {
			h.log.Warn(fmt.Sprintf("you can register max %d cron !!!", ipc.MaxSignalCrons))
			return errReply("too many crons")
		}
		h.crons = append(h.crons, &cronEntry{owner: h.ownerOf(p), sig: uint8(nums[0]),
			cron: Cron{Minute: nums[1], Hour: nums[2], Day: nums[3], Month: nums[4], Weekday: nums[5]}})
		return ipc.SignalOK
	}
	return errReply("unknown request " + strconv.Quote(verb))
}

func errReply(why string) string { return ipc.SignalErr + " " + why }

func parseSig(s string) (uint8, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, fmt.Errorf("signal %q: want 0-255", s)
	}
	return uint8(n), nil
}

// register puts a zygote's registration in the master's table. As in
// uWSGI, the master's table takes a signal once.
func (h *Hub) register(p *Proc, f []string) string {
	if p.Role != ipc.RoleZygote {
		return errReply("only a zygote registers in the master's table; a worker keeps its own")
	}
	if len(f) < 1 || len(f) > 2 {
		return errReply("register: want SIG [TARGET]")
	}
	sig, err := parseSig(f[0])
	if err != nil {
		return errReply(err.Error())
	}
	target := ""
	if len(f) == 2 {
		target = f[1]
	}
	if len(target) > ipc.MaxSignalTarget {
		return errReply("target longer than 63 bytes")
	}
	if p.Gen < h.tableGen {
		return errReply("a newer generation's zygote owns the master's table")
	}
	if _, dup := h.table[sig]; dup {
		h.log.Warn("[uwsgi-signal] you cannot re-register a signal as the master !!!", "signal", sig)
		return errReply("you cannot re-register a signal as the master")
	}
	h.table[sig] = target
	return ipc.SignalOK
}

func (h *Hub) addTimer(p *Proc, sig uint8, secs, iterations int, rb bool, now time.Time) string {
	n := 0
	for _, t := range h.timers {
		if t.rb == rb {
			n++
		}
	}
	if n >= ipc.MaxSignalTimers {
		kind := "timers"
		if rb {
			kind = "rb_timers"
		}
		h.log.Warn(fmt.Sprintf("you can register max %d %s !!!", ipc.MaxSignalTimers, kind))
		return errReply("too many " + kind)
	}
	every := time.Duration(secs) * time.Second
	t := &timer{owner: h.ownerOf(p), sig: sig, every: every, next: now.Add(every), iterations: iterations, rb: rb}
	if secs <= 0 { // uWSGI arms a timerfd with 0: it never fires
		h.log.Warn("a timer of 0 seconds or less never fires", "signal", sig, "seconds", secs)
	}
	h.timers = append(h.timers, t)
	return ipc.SignalOK
}

func (h *Hub) addFileMon(p *Proc, sig uint8, path string) string {
	if len(path) > 254 {
		return errReply("file name too long")
	}
	if len(h.fmons) >= ipc.MaxSignalFileMons {
		h.log.Warn(fmt.Sprintf("you can register max %d file monitors !!!", ipc.MaxSignalFileMons))
		return errReply("too many file monitors")
	}
	f := &fileMon{owner: h.ownerOf(p), sig: sig, path: path, wd: -1}
	if h.watcher == nil {
		h.log.Warn("file monitors are not available here", "path", path)
	} else if wd, err := h.watcher.Watch(path); err != nil {
		// uWSGI accepts the monitor and logs the failure when the master
		// adds it; so do we.
		h.log.Error("cannot monitor file (add_file_monitor); its signal will not fire", "path", path, "signal", sig, "error", err)
	} else {
		f.wd = wd
	}
	h.fmons = append(h.fmons, f)
	return ipc.SignalOK
}

// FileChanged routes the signals of the monitors on watch wd, each
// signal once: lazy workers that all monitor the same file with the same
// signal get one delivery per change, as under uWSGI.
func (h *Hub) FileChanged(wd int) {
	done := map[uint8]bool{}
	for _, f := range h.fmons {
		if f.wd == wd && !done[f.sig] {
			done[f.sig] = true
			h.Route(f.sig)
		}
	}
}

// Tick fires every timer and cron due at now.
func (h *Hub) Tick(now time.Time) {
	var due []*timer
	for _, t := range h.timers {
		if t.every > 0 && !now.Before(t.next) {
			due = append(due, t)
		}
	}
	sort.SliceStable(due, func(i, j int) bool { return due[i].next.Before(due[j].next) })
	for _, t := range due {
		h.Route(t.sig)
		t.done++
		for !now.Before(t.next) { // a late master fires once, as a timerfd read does
			t.next = t.next.Add(t.every)
		}
	}
	if len(due) > 0 {
		kept := h.timers[:0]
		for _, t := range h.timers {
			if !t.rb || t.iterations == 0 || t.done < t.iterations {
				kept = append(kept, t)
			}
		}
		h.timers = kept
	}
	minute := now.Truncate(time.Minute)
	if minute.Equal(h.lastCron) {
		return
	}
	h.lastCron = minute
	for _, c := range h.crons {
		if c.cron.Matches(now) && (c.last.IsZero() || now.Sub(c.last) >= time.Minute) {
			h.log.Info(fmt.Sprintf("[uwsgi-cron] routing signal %d", c.sig))
			h.Route(c.sig)
			c.last = now
		}
	}
}

// NextWake is when Tick has work next: the earliest timer, or the next
// minute when there are crons.
func (h *Hub) NextWake(now time.Time) time.Time {
	next := now.Add(time.Hour)
	for _, t := range h.timers {
		if t.every > 0 && t.next.Before(next) {
			next = t.next
		}
	}
	if len(h.crons) > 0 {
		if m := now.Truncate(time.Minute).Add(time.Minute); m.Before(next) {
			next = m
		}
	}
	return next
}

// Route delivers sig to the processes the master's table names for it:
// uWSGI's uwsgi_route_signal. A signal nobody registered in the
// master's table goes to any one worker, as in uWSGI.
func (h *Hub) Route(sig uint8) {
	target := h.table[sig]
	rule, ok := ParseTarget(target)
	if !ok {
		h.log.Warn(fmt.Sprintf("^^^ UNSUPPORTED SIGNAL TARGET: %s ^^^", target))
		return
	}
	role := Roles[rule.Role]
	switch rule.Mode {
	case Any:
		procs := h.current(rule.Role)
		if len(procs) == 0 {
			h.fail(fmt.Sprintf(role.AnyFail, sig))
			return
		}
		i := h.rr[rule.Role] % len(procs)
		h.rr[rule.Role] = i + 1
		h.send(procs[i], sig, fmt.Sprintf(role.AnyFail, sig))
	case All:
		procs := h.current(rule.Role)
		have := map[int]bool{}
		for _, p := range procs {
			have[p.ID] = true
			h.send(p, sig, fmt.Sprintf(role.OneFail, sig, p.ID))
		}
		if rule.Role == ipc.RoleWorker && h.Processes != nil {
			for id := 1; id <= h.Processes(); id++ {
				if !have[id] {
					h.fail(fmt.Sprintf(role.OneFail, sig, id))
				}
			}
		}
	case One:
		if rule.Role == ipc.RoleWorker && h.Processes != nil && rule.N > h.Processes() {
			h.log.Warn("invalid signal target: " + target)
			return
		}
		for _, p := range h.current(rule.Role) {
			if p.ID == rule.N {
				h.send(p, sig, fmt.Sprintf(role.OneFail, sig, p.ID))
				return
			}
		}
		if rule.Role != ipc.RoleWorker {
			h.log.Warn("invalid signal target: " + target)
			return
		}
		h.fail(fmt.Sprintf(role.OneFail, sig, rule.N))
	}
}

func (h *Hub) send(p *Proc, sig uint8, why string) {
	if err := p.Send(sig); err != nil {
		h.fail(why + ": " + err.Error())
		return
	}
	h.Routed++
}

func (h *Hub) fail(line string) {
	h.Unrouted++
	h.log.Warn(line)
}

// current is the processes of role, one per id (the newest generation,
// then the newest connection: during a reload the new worker N, not the
// old one), sorted by id.
func (h *Hub) current(role string) []*Proc {
	best := map[int]*Proc{}
	for p := range h.procs {
		if p.Role != role {
			continue
		}
		if b := best[p.ID]; b == nil || p.Gen > b.Gen || (p.Gen == b.Gen && p.seq > b.seq) {
			best[p.ID] = p
		}
	}
	out := make([]*Proc, 0, len(best))
	for _, p := range best {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
