package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/worker/python"
)

// runtimeState is what every generation of workers shares with the master.
type runtimeState struct {
	Dir       string   // private 0700 directory: worker.py, notify.sock
	Notify    string   // the notify socket's path
	Lifeline  *os.File // read end of the lifeline pipe
	lifelineW *os.File // its write end: only the master holds it
	Stdin     *os.File // /dev/null
	// Log is the shared log pipe's write end: the stdout and stderr of
	// processes started without their own pipe (Sink) and of the workers
	// an upgraded master adopted. Each process the master starts gets its
	// own pipe into Sink, so lines never splice (ProcSpec.Log).
	Log       *os.File
	logR      *os.File
	Sink      *LogSink
	MasterPID int
	Board     *ipc.Scoreboard
	// Locks is the memfd behind uwsgi.lock (ipc.EnvLocksFD): the workers
	// lay their shared mutexes in it and grow it as locks = N needs.
	Locks *os.File
	// API is the uwsgi module's caches and semaphore names (caches.go).
	API     *sharedAPI
	Started time.Time // uwsgi.started_on
	// Signals is the signal socket's path (ipc.EnvSignalSocket).
	Signals string
	// pythonFiles are worker.py and its modules in Dir (python.WriteAll).
	pythonFiles []string
	// bytecodeErr is why an upgraded master could not keep the previous
	// one's bytecode cache: its Python processes compile again.
	bytecodeErr error
	svc         atomic.Pointer[services] // spooler and mules: made by the first launcher that needs them (services.go)
}

// pythonArgs is the command line of a Python process of ours (worker,
// zygote, spooler, mule): interp running boot.py, which runs worker.py
// from a bytecode cache in the runtime directory.
func (rt *runtimeState) pythonArgs(interp string) []string {
	return []string{interp, filepath.Join(rt.Dir, python.BootFileName)}
}

// notifySocketName is the notify socket's name in the runtime directory.
const notifySocketName = "notify.sock"

// logPipe is what a ProcSpec's Log gets: the sink, or none.
func (rt *runtimeState) logPipe() master.LogPipe {
	if rt.Sink == nil {
		return nil
	}
	return rt.Sink
}

// newRuntime makes the private directory holding the Python worker and the
// notify socket, the lifeline and log pipes, and the scoreboard. After an
// in-place upgrade the pipes and the scoreboard are the previous master's,
// so the workers it left keep their lifeline and their log.
func newRuntime(cfg *config.Config, sink *LogSink, st *upgradeState) (*runtimeState, *ipc.NotifyListener, func(), error) {
	previous := ""
	if st != nil {
		previous = st.RuntimeDir // its notify socket died with the exec, but its bytecode is still good
	}
	removeStaleRuntimeDirs(os.TempDir(), previous)
	dir, err := os.MkdirTemp("", "supervise-")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("runtime directory: %w", err)
	}
	rt := &runtimeState{Dir: dir, MasterPID: os.Getpid(), Sink: sink, Started: time.Now()}
	var notify *ipc.NotifyListener
	drained := make(chan struct{})
	cleanup := func() {
		if rt.Log != nil { // every worker is gone: the drain copies their last lines and stops
			rt.Log.Close()
			select {
			case <-drained:
			case <-time.After(2 * time.Second):
			}
		}
		sink.Flush(2 * time.Second) // and each process's own pipe
		for _, f := range []*os.File{rt.logR, rt.Lifeline, rt.lifelineW, rt.Stdin, rt.Locks} {
			if f != nil {
				f.Close()
			}
		}
		if rt.Board != nil {
			rt.Board.Close()
		}
		if rt.API != nil {
			rt.API.close()
		}
		rt.svc.Load().close()
		if notify != nil {
			notify.Close()
		}
		os.RemoveAll(dir)
	}
	fail := func(err error) (*runtimeState, *ipc.NotifyListener, func(), error) {
		cleanup()
		return nil, nil, nil, err
	}
	if rt.pythonFiles, err = python.WriteAll(dir, 0o600); err != nil {
		return fail(err)
	}
	if st != nil && st.SemPrefix != "" { // an upgrade: the previous master's locks and caches
		unix.CloseOnExec(st.Locks)
		rt.Locks = os.NewFile(uintptr(st.Locks), "locks")
		rt.API = adoptSharedAPI(st)
	} else {
		fd, err := unix.MemfdCreate("supervise-locks", unix.MFD_CLOEXEC)
		if err != nil {
			return fail(fmt.Errorf("locks: memfd_create: %w", err))
		}
		rt.Locks = os.NewFile(uintptr(fd), "locks")
		if rt.API, err = newSharedAPI(cfg, dir); err != nil {
			return fail(err)
		}
	}
	if notify, err = ipc.ListenNotify(filepath.Join(dir, notifySocketName)); err != nil {
		return fail(err)
	}
	rt.Notify = notify.Path
	if rt.Stdin, err = os.Open(os.DevNull); err != nil {
		return fail(err)
	}
	if rt.Lifeline, rt.lifelineW, err = pipe(st, func(s *upgradeState) (int, int) { return s.LifelineR, s.LifelineW }); err != nil {
		return fail(fmt.Errorf("lifeline pipe: %w", err))
	}
	if rt.logR, rt.Log, err = pipe(st, func(s *upgradeState) (int, int) { return s.LogR, s.LogW }); err != nil {
		return fail(fmt.Errorf("log pipe: %w", err))
	}
	enlargePipe(rt.Log)
	go func() { lineDrain(sink, rt.logR); close(drained) }()
	if st != nil {
		for _, fd := range st.ProcLogs { // the adopted processes' own pipes
			unix.CloseOnExec(fd)
			sink.drain(os.NewFile(uintptr(fd), "log pipe"))
		}
	}
	if st != nil && st.Board >= 0 {
		unix.CloseOnExec(st.Board)
		rt.Board, err = ipc.OpenScoreboard(os.NewFile(uintptr(st.Board), "scoreboard"))
	} else {
		rt.Board, err = ipc.CreateScoreboard(boardCapacity(cfg.Processes), cfg.Cores())
	}
	if err != nil {
		return fail(err)
	}
	if st != nil && st.RuntimeDir != "" {
		rt.bytecodeErr = python.MoveBytecode(st.RuntimeDir, dir)
		os.RemoveAll(st.RuntimeDir) // the previous master's; its workers loaded their code long ago
	}
	return rt, notify, cleanup, nil
}

// pipe makes a pipe, or takes the one the previous master passed. Its
// fds stay blocking and out of Go's netpoller: a write to a polled pipe
// wakes the poller every time (edge-triggered), which for the log pipe
// would cost the master a wakeup per request line.
func pipe(st *upgradeState, fds func(*upgradeState) (int, int)) (r, w *os.File, err error) {
	var rfd, wfd int
	if st == nil {
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return nil, nil, err
		}
		rfd, wfd = p[0], p[1]
	} else {
		rfd, wfd = fds(st)
	}
	unix.CloseOnExec(rfd)
	unix.CloseOnExec(wfd)
	return os.NewFile(uintptr(rfd), "pipe"), os.NewFile(uintptr(wfd), "pipe"), nil
}

// upgradeFDs fills the state's descriptors from the runtime.
func (rt *runtimeState) upgradeFDs(st *upgradeState) {
	st.LifelineR, st.LifelineW = int(rt.Lifeline.Fd()), int(rt.lifelineW.Fd())
	st.LogR, st.LogW = int(rt.logR.Fd()), int(rt.Log.Fd())
	if rt.Sink != nil {
		st.ProcLogs = rt.Sink.openPipes()
	}
	st.Board = int(rt.Board.File.Fd())
	st.RuntimeDir = rt.Dir
	if rt.API != nil {
		st.Locks = int(rt.Locks.Fd())
		st.SemPrefix, st.CacheNames = rt.API.semPrefix, rt.API.names
		for _, f := range rt.API.caches {
			st.Caches = append(st.Caches, int(f.Fd()))
		}
	}
}
