package supervisor

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/stats"
)

// The spooler processes and the mules are daemons of the master's loop
// (master.DaemonSpec): started beside the workers, restarted with
// backoff when they exit, stopped with SIGTERM (a spooler finishes its
// task first) on shutdown. Their names carry the launcher's serial, so a
// reload stops the old ones and starts new ones with the new code, as
// uWSGI restarts them. What they share with the workers outlives them
// all: the wake sockets of the spooler directories, the mules' queues
// and the services board (ipc/services.go), made once per master.

// services is the master's part that outlives reloads.
type services struct {
	mu     sync.Mutex
	board  *os.File
	mem    []byte
	wake   map[string][2]*os.File // spooler dir -> [send, receive]
	queues map[string][2]*os.File // "mule N", "shared", "farm NAME" -> [send, receive]
	procs  map[string]*serviceProc
	serial atomic.Int64
	pids   atomic.Pointer[map[string]int] // the daemons' pids at the last stats snapshot
}

// serviceProc is one spooler process or mule as the stats and the signal
// targets see it.
type serviceProc struct {
	Role     string       // "spooler" or "mule"
	ID       int          // spooler: 1.. over all directories; mule: its id
	Dir      string       // spooler: its directory
	Slot     int          // services board slot
	serial   int64        // the plan's
	respawns atomic.Int64 // processes started: the first, then one per respawn
}

func newServices() (*services, error) {
	fd, err := unix.MemfdCreate("supervise-services", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("services board: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "services")
	if err := f.Truncate(ipc.ServiceBoardBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("services board: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, ipc.ServiceBoardBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("services board: mmap: %w", err)
	}
	binary.LittleEndian.PutUint64(mem[0:], ipc.ServiceBoardMagic)
	binary.LittleEndian.PutUint64(mem[8:], ipc.ServiceBoardVersion)
	return &services{board: f, mem: mem, wake: map[string][2]*os.File{}, queues: map[string][2]*os.File{},
		procs: map[string]*serviceProc{}}, nil
}

func (s *services) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range []map[string][2]*os.File{s.wake, s.queues} {
		for _, p := range m {
			p[0].Close()
			p[1].Close()
		}
	}
	unix.Munmap(s.mem)
	s.mem = nil
	s.board.Close()
}

// word reads a slot's word; the processes write them (untrusted numbers).
func (s *services) word(slot, w int) uint64 {
	off := (ipc.ServiceHeaderWords + slot*ipc.ServiceSlotWords + w) * 8
	if s.mem == nil || slot < 0 || slot >= ipc.ServiceSlots {
		return 0
	}
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&s.mem[off])))
}

func (s *services) clearSlot(slot int) {
	if s.mem == nil || slot < 0 || slot >= ipc.ServiceSlots {
		return
	}
	for w := 0; w < ipc.ServiceSlotWords; w++ {
		off := (ipc.ServiceHeaderWords + slot*ipc.ServiceSlotWords + w) * 8
		atomic.StoreUint64((*uint64)(unsafe.Pointer(&s.mem[off])), 0)
	}
}

// pair returns the socketpair for key in m, made on first use.
func (s *services) pair(m map[string][2]*os.File, key string) ([2]*os.File, error) {
	if p, ok := m[key]; ok {
		return p, nil
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return [2]*os.File{}, fmt.Errorf("%s: socketpair: %w", key, err)
	}
	for _, fd := range fds { // room for many queued messages (the kernel caps it at wmem_max)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	p := [2]*os.File{os.NewFile(uintptr(fds[0]), key+" send"), os.NewFile(uintptr(fds[1]), key+" receive")}
	m[key] = p
	return p, nil
}

// servicePlan is one launcher's spooler processes and mules.
type servicePlan struct {
	svc      *services
	serial   int64
	dirs     []string // real paths, config order
	spoolers []*serviceProc
	mules    []*serviceProc
	farms    []config.Farm
}

// planServices checks the spooler directories (a missing one is made,
// as uWSGI does; one that cannot be made or written is an error naming
// it) and assigns board slots. Nothing runs yet.
func (l *launcher) planServices() error {
	c := l.cfg.Services
	if len(c.Spooler) == 0 && len(c.Mule) == 0 {
		return nil
	}
	if l.rt.svc.Load() == nil {
		svc, err := newServices()
		if err != nil {
			return err
		}
		l.rt.svc.Store(svc)
	}
	svc := l.rt.svc.Load()
	p := &servicePlan{svc: svc, serial: svc.serial.Add(1)}
	procs := max(c.SpoolerProcesses, 1)
	for _, dir := range c.Spooler {
		real, err := l.spoolerDir(dir)
		if err != nil {
			return err
		}
		p.dirs = append(p.dirs, real)
		for i := 0; i < procs; i++ {
			p.spoolers = append(p.spoolers, &serviceProc{Role: "spooler", ID: len(p.spoolers) + 1, Dir: real, Slot: len(p.spoolers), serial: p.serial})
		}
	}
	for i := range c.Mule {
		p.mules = append(p.mules, &serviceProc{Role: "mule", ID: i + 1, Slot: len(p.spoolers) + i, serial: p.serial})
	}
	p.farms = c.Farm
	if len(p.spoolers)+len(p.mules) > ipc.ServiceSlots {
		return fmt.Errorf("spooler processes and mules: %d configured, at most %d", len(p.spoolers)+len(p.mules), ipc.ServiceSlots)
	}
	l.svc = p
	return nil
}

// spoolerDir is uWSGI's check: readable, writable and searchable, else
// made (0750, owned by the workers' user); its real path names it.
func (l *launcher) spoolerDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("spooler %s: %w", dir, err)
	}
	if unix.Access(abs, unix.R_OK|unix.W_OK|unix.X_OK) != nil {
		if err := os.Mkdir(abs, 0o750); err != nil {
			if errors.Is(err, os.ErrExist) {
				err = errors.New("it exists but supervise cannot read, write and enter it")
			}
			return "", fmt.Errorf("spooler %s: %w (create the directory, writable by the workers' user)", dir, err)
		}
		if l.cred != nil {
			if err := os.Chown(abs, int(l.cred.Uid), int(l.cred.Gid)); err != nil {
				return "", fmt.Errorf("spooler %s: %w", dir, err)
			}
		}
	}
	fi, err := os.Stat(abs)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("spooler %s: not a directory", dir)
	}
	return filepath.EvalSymlinks(abs)
}

// serviceEnv gives a Python process (worker, spooler or mule) the
// sending ends and the board: files grows, the env var describes them.
func (p *servicePlan) serviceEnv(files []*os.File) ([]*os.File, string, error) {
	if p == nil {
		return files, "", nil
	}
	svc := p.svc
	svc.mu.Lock()
	defer svc.mu.Unlock()
	add := func(f *os.File) int { files = append(files, f); return len(files) - 1 }
	out := ipc.Services{Board: add(svc.board), Shared: -1, Spoolers: []ipc.SpoolerDir{}, Mules: []ipc.MuleQueue{}, Farms: []ipc.FarmQueue{}}
	for _, dir := range p.dirs {
		w, err := svc.pair(svc.wake, dir)
		if err != nil {
			return nil, "", err
		}
		d := ipc.SpoolerDir{Dir: dir, Wake: add(w[0]), Slots: []int{}}
		for _, s := range p.spoolers {
			if s.Dir == dir {
				d.Slots = append(d.Slots, s.Slot)
			}
		}
		out.Spoolers = append(out.Spoolers, d)
	}
	if len(p.mules) > 0 {
		shared, err := svc.pair(svc.queues, "shared")
		if err != nil {
			return nil, "", err
		}
		out.Shared = add(shared[0])
	}
	for _, m := range p.mules {
		q, err := svc.pair(svc.queues, "mule "+strconv.Itoa(m.ID))
		if err != nil {
			return nil, "", err
		}
		out.Mules = append(out.Mules, ipc.MuleQueue{ID: m.ID, Queue: add(q[0]), Slot: m.Slot})
	}
	for _, f := range p.farms {
		q, err := svc.pair(svc.queues, "farm "+f.Name)
		if err != nil {
			return nil, "", err
		}
		out.Farms = append(out.Farms, ipc.FarmQueue{Name: f.Name, Queue: add(q[0]), Mules: f.Mules})
	}
	return files, mustJSON(out), nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and numbers
	}
	return string(b)
}

// daemons are the spooler processes and the mules as master daemons.
func (l *launcher) serviceDaemons() []master.DaemonSpec {
	p := l.svc
	if p == nil {
		return nil
	}
	var out []master.DaemonSpec
	for _, s := range append(append([]*serviceProc(nil), p.spoolers...), p.mules...) {
		s := s
		// The name changes with every configuration read (a reload starts
		// new ones) and with the runtime directory (an upgraded master,
		// with new queues, does not adopt the old ones).
		tag := fmt.Sprintf("%s/%d", filepath.Base(l.rt.Dir), p.serial)
		name := fmt.Sprintf("%s %d (%s)", s.Role, s.ID, tag)
		if s.Role == "spooler" {
			name = fmt.Sprintf("spooler %d on %s (%s)", s.ID, s.Dir, tag)
		}
		p.svc.mu.Lock()
		p.svc.procs[name] = s
		for n, old := range p.svc.procs { // the plans before the last two are gone
			if old.serial < p.serial-2 {
				delete(p.svc.procs, n)
			}
		}
		p.svc.mu.Unlock()
		out = append(out, master.DaemonSpec{Name: name, Spec: func() (*master.ProcSpec, error) {
			s.respawns.Add(1)
			p.svc.clearSlot(s.Slot)
			return l.serviceSpec(s)
		}})
	}
	return out
}

// serviceSpec is the process for a spooler process or a mule: the
// Python interpreter on boot.py (worker.py), which runs spooler.py or mule.py for
// the role its environment names (EnvSpooler, EnvMule), with the app's
// environment, the lifeline and locks, and its queue's receiving end.
func (l *launcher) serviceSpec(s *serviceProc) (*master.ProcSpec, error) {
	files := []*os.File{l.rt.Stdin, l.rt.Log, l.rt.Log}
	lifelineFD := len(files)
	files = append(files, l.rt.Lifeline)
	locksFD := len(files)
	files = append(files, l.rt.Locks)
	files, svcEnv, err := l.svc.serviceEnv(files)
	if err != nil {
		return nil, err
	}
	env := append([]string(nil), l.baseEnv...)
	env = append(env, l.cfg.Env...)
	env = append(env,
		ipc.EnvLifelineFD+"="+strconv.Itoa(lifelineFD),
		ipc.EnvMasterPID+"="+strconv.Itoa(l.rt.MasterPID),
		ipc.EnvThreads+"="+strconv.Itoa(l.cfg.Threads),
		ipc.EnvBufferSize+"="+strconv.Itoa(l.cfg.BufferSize),
		ipc.EnvServices+"="+svcEnv,
	)
	if l.cfg.LogJSON {
		env = append(env, ipc.EnvLogJSON+"=1")
	}
	env = append(env, l.uwsgiModuleEnv(locksFD)...)
	env = append(env, l.pythonEnv()...)
	svc := l.svc.svc
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if s.Role == "spooler" {
		w, err := svc.pair(svc.wake, s.Dir)
		if err != nil {
			return nil, err
		}
		files = append(files, w[1])
		c := l.cfg.Services
		freq := c.SpoolerFrequency
		if freq == 0 {
			freq = config.DefaultSpoolerFrequency
		}
		env = append(env, ipc.EnvSpooler+"="+mustJSON(ipc.Spooler{
			Dir: s.Dir, Wake: len(files) - 1, Slot: s.Slot, FrequencyS: int(freq / time.Second),
			MaxTasks: c.SpoolerMaxTasks, HarakiriS: int(c.SpoolerHarakiri / time.Second), Chdir: c.SpoolerChdir,
			Import: append([]string{}, c.SpoolerImport...), Quiet: c.SpoolerQuiet, Ordered: c.SpoolerOrdered,
			ProcessesOf: max(c.SpoolerProcesses, 1), Index: (s.ID - 1) % max(c.SpoolerProcesses, 1),
		}))
	} else {
		m := ipc.Mule{ID: s.ID, Slot: s.Slot, Patch: l.cfg.Services.Mule[s.ID-1], Farms: map[string]int{}}
		for _, key := range []string{"mule " + strconv.Itoa(s.ID), "shared"} {
			q, err := svc.pair(svc.queues, key)
			if err != nil {
				return nil, err
			}
			files = append(files, q[1])
			if key == "shared" {
				m.Shared = len(files) - 1
			} else {
				m.Queue = len(files) - 1
			}
		}
		for _, f := range l.cfg.Services.Farm {
			for _, id := range f.Mules {
				if id == s.ID {
					q, err := svc.pair(svc.queues, "farm "+f.Name)
					if err != nil {
						return nil, err
					}
					files = append(files, q[1])
					m.Farms[f.Name] = len(files) - 1
				}
			}
		}
		env = append(env, ipc.EnvMule+"="+mustJSON(m))
	}
	python := l.path
	return &master.ProcSpec{Path: python, Args: l.rt.pythonArgs(python), Env: env, Dir: l.cfg.Chdir,
		Files: files, Credential: l.cred, Log: l.rt.logPipe()}, nil
}

// withServices adds the services' sending ends to a worker's files and
// environment.
func (l *launcher) withServices(files []*os.File, env []string) ([]*os.File, []string, error) {
	if l.svc == nil || len(l.cfg.Exec) > 0 {
		return files, env, nil
	}
	files, svcEnv, err := l.svc.serviceEnv(files)
	if err != nil {
		return nil, nil, err
	}
	return files, append(env, ipc.EnvServices+"="+svcEnv), nil
}

// ServiceProcess is a spooler process or a mule as a uwsgi signal target
// names it: role "spooler" (ID 1.. over all spooler directories, in
// config order) or "mule" (its id); PID is 0 while it waits to restart;
// Slot is its services board slot (ipc/services.go).
type ServiceProcess struct {
	Role string
	ID   int
	Dir  string
	PID  int
	Slot int
	proc *serviceProc
}

// serviceProcesses lists the current plan's spooler processes and mules,
// spoolers first, asking the loop (through calls) for their pids.
// Without spooler or mules configured (ever), it does not ask the loop.
func serviceProcesses(rt *runtimeState, m *master.Master, calls chan<- func()) []ServiceProcess {
	svc := rt.svc.Load()
	if svc == nil {
		return nil
	}
	reply := make(chan map[string]int, 1)
	select {
	case calls <- func() { reply <- m.DaemonPIDs() }:
	case <-time.After(2 * time.Second):
		return nil
	}
	return svc.processes(<-reply)
}

// processes matches the loop's daemons (name -> pid) with the services.
func (svc *services) processes(pids map[string]int) []ServiceProcess {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	var out []ServiceProcess
	for name, pid := range pids {
		if s, ok := svc.procs[name]; ok {
			out = append(out, ServiceProcess{Role: s.Role, ID: s.ID, Dir: s.Dir, PID: pid, Slot: s.Slot, proc: s})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Role != out[j].Role {
			return out[i].Role == "spooler"
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// statsSnapshot is loopSnapshot that also records the daemons' pids in
// the same call on the loop, for serviceStats: the stats server collects
// under its lock, where asking the loop again could wait on a loop that
// waits on that lock (a reload's SetSockets).
func statsSnapshot(rt *runtimeState, m *master.Master, calls chan<- func()) func() ([]stats.WorkerInfo, error) {
	return func() ([]stats.WorkerInfo, error) {
		reply := make(chan []stats.WorkerInfo, 1)
		select {
		case calls <- func() {
			if svc := rt.svc.Load(); svc != nil {
				pids := m.DaemonPIDs()
				svc.pids.Store(&pids)
			}
			reply <- m.Snapshot()
		}:
			return <-reply, nil
		case <-time.After(2 * time.Second):
			return nil, errors.New("the master did not answer (shutting down?)")
		}
	}
}

// serviceStats is the stats server's view: uWSGI's "spoolers" entries
// and supervise's "mules".
func serviceStats(rt *runtimeState) func() ([]stats.Spooler, []stats.Mule) {
	return func() ([]stats.Spooler, []stats.Mule) {
		var sp []stats.Spooler
		var mu []stats.Mule
		svc := rt.svc.Load()
		if svc == nil {
			return nil, nil
		}
		pids := svc.pids.Load()
		if pids == nil {
			return nil, nil
		}
		for _, p := range svc.processes(*pids) {
			tasks, running := svc.word(p.Slot, ipc.SvcTasks), svc.word(p.Slot, ipc.SvcRunning)
			if p.PID == 0 || int(svc.word(p.Slot, ipc.SvcPID)) != p.PID {
				tasks, running = 0, 0 // not (yet) written by this process
			}
			if p.Role == "spooler" {
				// uWSGI counts a spooler's respawns (0 at first), a worker's (and so a mule's) spawns
				sp = append(sp, stats.Spooler{Dir: p.Dir, PID: p.PID, Tasks: tasks, Respawns: max(p.proc.respawns.Load()-1, 0), Running: min(running, 1)})
			} else {
				mu = append(mu, stats.Mule{ID: p.ID, PID: p.PID, Messages: tasks, RespawnCount: p.proc.respawns.Load(), Running: min(running, 1)})
			}
		}
		return sp, mu
	}
}
