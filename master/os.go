package master

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// OS is the seam between the loop's decisions and the processes they act
// on. The real one forks and waits; unit tests use a fake with fake time.
type OS struct {
	Start func(spec *ProcSpec) (pid int, err error)
	// StartAll starts several processes forked from one zygote
	// (spec.Fork) at once: each pid or error, in specs' order. Nil: one
	// Start each.
	StartAll func(specs []*ProcSpec) (pids []int, errs []error)
	Signal   func(pid int, sig syscall.Signal) error
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
	// Setsid starts it in a session (and process group) of its own, so a
	// signal to -pid reaches what it started (cron, attach-daemon2).
	Setsid bool
	// Log, when set, gives the process its own pipe for fds 1 and 2,
	// drained into Log line by line (Files[1] and [2] are replaced), so
	// its lines never splice with another process's.
	Log LogPipe
	// Fork, when set, starts the process from a zygote: only Env and Log
	// are used, the rest is the zygote's.
	Fork Forker
}

// LogPipe gives a process its own log pipe: the write end for its fds 1
// and 2, which the caller closes once the child has its copy.
type LogPipe interface {
	ProcessPipe() (w *os.File, err error)
}

// Exit is a reaped child.
type Exit struct {
	PID    int
	Status syscall.WaitStatus
}

// describe says how the process ended, in words for the log.
func (e Exit) describe() string {
	switch {
	case e.Status.Signaled():
		return "killed by " + signalName(e.Status.Signal())
	case e.Status.Exited():
		return fmt.Sprintf("exit code %d", e.Status.ExitStatus())
	}
	return fmt.Sprintf("status %#x", uint32(e.Status))
}

// signalName is a signal as the log names it.
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
