package master

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/process"
)

// OS is the seam between the loop's decisions and the processes they act
// on. The real one forks and waits; unit tests use a fake with fake time.
type OS struct {
	Start  func(spec *ProcSpec) (pid int, err error)
	Signal func(pid int, sig syscall.Signal) error
	// Reap returns every child that has exited since the last call without
	// blocking. It is the only place the master waits on children: as PID 1
	// it also collects orphans, which the loop ignores.
	Reap func() []Exit
	Now  func() time.Time
	// RSS is a process's resident memory in bytes.
	RSS func(pid int) (uint64, error)
}

// ProcSpec is one process to start.
type ProcSpec struct {
	Path       string
	Args       []string
	Env        []string
	Dir        string
	Files      []*os.File          // fd 0, 1, 2, 3...
	Credential *syscall.Credential // uid/gid to run as; nil keeps the master's
	// DeathSignal is sent to the process if the master dies (daemons have
	// no lifeline pipe to watch); 0 for none.
	DeathSignal syscall.Signal
	// Log, when set, gives the process its own pipe for fds 1 and 2,
	// drained into Log line by line (Files[1] and [2] are replaced), so
	// its lines never splice with another process's.
	Log *LogSink
}

// Exit is a reaped child.
type Exit struct {
	PID    int
	Status syscall.WaitStatus
}

// Describe says how the process ended, in words for the log.
func (e Exit) Describe() string {
	switch {
	case e.Status.Signaled():
		return "killed by " + signalName(e.Status.Signal())
	case e.Status.Exited():
		return fmt.Sprintf("exit code %d", e.Status.ExitStatus())
	}
	return fmt.Sprintf("status %#x", uint32(e.Status))
}

func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGKILL: "SIGKILL", syscall.SIGTERM: "SIGTERM", syscall.SIGINT: "SIGINT",
		syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV", syscall.SIGABRT: "SIGABRT",
		syscall.SIGHUP: "SIGHUP", syscall.SIGBUS: "SIGBUS", syscall.SIGPIPE: "SIGPIPE",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return s.String()
}

// RealOS starts processes with fork+exec and reaps them with wait4(-1).
// Go's os/exec must not be used for children of the master: its Wait would
// race with Reap for the same pids.
func RealOS() OS {
	return OS{Start: forkExec, Signal: syscall.Kill, Reap: reapAll, Now: time.Now, RSS: residentBytes}
}

func forkExec(spec *ProcSpec) (int, error) {
	fds := make([]uintptr, len(spec.Files))
	for i, f := range spec.Files {
		fds[i] = f.Fd()
	}
	if spec.Log != nil && len(fds) > 2 {
		w, err := spec.Log.processPipe()
		if err != nil {
			return 0, fmt.Errorf("log pipe: %w", err)
		}
		defer w.Close() // the child has its copy; the drain ends when the child's closes
		fds[1], fds[2] = w.Fd(), w.Fd()
	}
	return syscall.ForkExec(spec.Path, spec.Args, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: fds,
		Sys:   &syscall.SysProcAttr{Credential: spec.Credential, Pdeathsig: spec.DeathSignal},
	})
}

func reapAll() []Exit {
	var exits []Exit
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return exits
		}
		if ws.Stopped() || ws.Continued() {
			continue
		}
		exits = append(exits, Exit{PID: pid, Status: ws})
	}
}

// residentBytes reads a process's resident set size (gopsutil reads
// /proc/PID/statm: one small read, cheap enough for the loop once a second).
func residentBytes(pid int) (uint64, error) {
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		return 0, err
	}
	mem, err := p.MemoryInfo()
	if err != nil {
		return 0, err
	}
	return mem.RSS, nil
}
