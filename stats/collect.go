package stats

import (
	"os"
	"time"

	"github.com/shirou/gopsutil/v3/process"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
)

// Version is what the "version" key says.
var Version = "supervise-dev"

// WorkerInfo is the master's view of one slot at the moment of a snapshot.
type WorkerInfo struct {
	ID            int
	PID           int // 0 while the slot is empty
	Slot          int // scoreboard slot, -1 if none
	Ready         bool
	LastSpawn     time.Time
	Respawns      int
	HarakiriCount int
	Chdir         string
	Paused        bool // FIFO p
	Cheap         bool // cheaper left the slot empty
	NoApp         bool // the worker said NOAPP=1: its "apps" list is empty
}

// SocketInfo is one listening socket and how to read its queue.
type SocketInfo struct {
	Name, Proto string
	Queue       func() (queue, max int, err error)
}

// Collector turns a master snapshot and the scoreboard into Stats.
type Collector struct {
	Board   *ipc.Scoreboard
	Sockets []SocketInfo
	// Services lists the spooler processes and mules (nil: none).
	Services func() ([]Spooler, []Mule)
	lastReqs map[int]uint64 // by pid: requests at the previous collection
}

// Collect reads the scoreboard for workers; the slow parts (rss, queues)
// run here, outside the master's loop.
func (c *Collector) Collect(workers []WorkerInfo) Stats {
	cwd, _ := os.Getwd()
	st := Stats{Version: Version, PID: os.Getpid(), UID: os.Getuid(), GID: os.Getgid(), Cwd: cwd,
		Locks: defaultLocks(), Sockets: []Socket{}, Workers: []Worker{}}
	for _, s := range c.Sockets {
		q, max, _ := s.Queue()
		st.Sockets = append(st.Sockets, Socket{Name: s.Name, Proto: s.Proto, Queue: q, MaxQueue: max})
		st.ListenQueue += q
	}
	if c.lastReqs == nil {
		c.lastReqs = map[int]uint64{}
	}
	seen := map[int]uint64{}
	for _, w := range workers {
		sw := c.worker(w)
		seen[w.PID] = sw.Requests
		sw.DeltaRequests = sw.Requests - min(c.lastReqs[w.PID], sw.Requests)
		st.Workers = append(st.Workers, sw)
	}
	c.lastReqs = seen
	if c.Services != nil {
		st.Spoolers, st.Mules = c.Services()
	}
	return st
}

func (c *Collector) worker(w WorkerInfo) Worker {
	out := Worker{ID: w.ID, PID: w.PID, HarakiriCount: w.HarakiriCount, Status: "idle",
		LastSpawn: w.LastSpawn.Unix(), RespawnCount: w.Respawns, Cores: []Core{}}
	if w.Ready {
		out.Accepting = 1
	}
	if w.PID == 0 || w.Cheap {
		out.Status = "cheap"
	}
	if w.Paused {
		out.Status = "pause"
	}
	if w.PID > 0 {
		// Not process.NewProcess: its os.FindProcess opens a pidfd that
		// stays open until a garbage collection.
		p := &process.Process{Pid: int32(w.PID)}
		if mem, err := p.MemoryInfo(); err == nil {
			out.RSS, out.VSZ = mem.RSS, mem.VMS
		}
	}
	b := c.Board
	// The slot is only read when it is plausibly this worker's: its pid,
	// and nothing an honest worker cannot write (the master replaces a
	// worker whose slot fails the check).
	if b != nil && w.Slot >= 0 && w.Slot < b.Slots() && b.Worker(w.Slot, ipc.WkPID) == uint64(w.PID) &&
		b.CheckSlot(w.Slot, w.PID, monotonicNow()) == nil {
		out.Signals = int(b.Worker(w.Slot, ipc.WkSignals))
		for core := 0; core < b.Cores(); core++ {
			cr := c.core(w.Slot, core)
			if cr.InRequest == 1 {
				out.Status = "busy"
			}
			out.Requests += cr.Requests
			out.Exceptions += b.Core(w.Slot, core, ipc.CoreExceptions)
			out.Tx += b.Core(w.Slot, core, ipc.CoreTx)
			out.RunningTime += b.Core(w.Slot, core, ipc.CoreRtTotalUs)
			for i := range out.StatusClasses {
				out.StatusClasses[i] += b.Core(w.Slot, core, ipc.CoreStatus+i)
			}
			for i := range out.Durations {
				out.Durations[i] += b.Core(w.Slot, core, ipc.CoreDuration+i)
			}
			out.Cores = append(out.Cores, cr)
		}
		if out.Requests > 0 {
			out.AvgRt = out.RunningTime / out.Requests
		}
	}
	out.Apps = []App{{Requests: out.Requests, Exceptions: out.Exceptions, Chdir: w.Chdir}}
	if w.NoApp {
		out.Apps = []App{} // as uWSGI shows a worker without an app
	}
	return out
}

func (c *Collector) core(slot, core int) Core {
	b := c.Board
	cr := Core{ID: core, Requests: b.Core(slot, core, ipc.CoreRequests),
		ReadErrors: b.Core(slot, core, ipc.CoreReadErrors), WriteErrors: b.Core(slot, core, ipc.CoreWriteErrors),
		Vars: []string{}}
	if b.Core(slot, core, ipc.CoreInRequest) != 1 {
		return cr
	}
	cr.InRequest = 1
	cr.ReqInfo.RequestStart = monotonicToUnix(b.Core(slot, core, ipc.CoreStartNs))
	format, raw := b.Vars(slot, core)
	cr.Vars = decodeVars(format, raw)
	return cr
}

func decodeVars(format uint64, raw []byte) []string {
	out := []string{}
	switch format {
	case ipc.VarsUwsgi:
		vars, _ := uwsgi.ParseVarsPrefix(raw) // the area may cut the block short
		for _, v := range vars {
			out = append(out, v.Key+"="+v.Value)
		}
	case ipc.VarsHTTP:
		out = append(out, httpHeadVars(raw)...)
	}
	return out
}
