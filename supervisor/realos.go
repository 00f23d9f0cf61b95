package supervisor

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/process"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/master"
)

// realOS starts processes with fork+exec, or asks a zygote to fork them,
// and reaps them with wait4(-1): the master is a child subreaper
// (becomeSubreaper), so a worker the zygote forked is its child too.
// Go's os/exec must not be used for children of the master: its Wait would
// race with Reap for the same pids.
func realOS() master.OS {
	return master.OS{Start: forkExec, StartAll: forkAll, Signal: syscall.Kill, Reap: reapAll, Now: time.Now, RSS: residentBytes}
}

// forkAll starts workers that fork from one zygote (the master's
// startAll sends no others) in one fork request: the zygote forks them
// back to back.
func forkAll(specs []*master.ProcSpec) ([]int, []error) {
	return specs[0].Fork.ForkAll(specs)
}

func forkExec(spec *master.ProcSpec) (int, error) {
	if spec.Fork != nil {
		return spec.Fork.Fork(spec) // from the generation's zygote
	}
	fds := make([]uintptr, len(spec.Files))
	for i, f := range spec.Files {
		fds[i] = f.Fd()
	}
	if spec.Log != nil && len(fds) > 2 {
		w, err := spec.Log.ProcessPipe()
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
		Sys:   &syscall.SysProcAttr{Credential: spec.Credential, Pdeathsig: spec.DeathSignal, Setsid: spec.Setsid},
	})
}

func reapAll() []master.Exit {
	var exits []master.Exit
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
		exits = append(exits, master.Exit{PID: pid, Status: ws})
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

// becomeSubreaper makes the master the parent of every orphan below it:
// a zygote double-forks each worker, and the worker, orphaned at once,
// becomes the master's child, which reapAll waits for as for any other.
// (Go's os.Process and its pidfds are not used for workers: reapAll's
// wait4(-1) is the one place the master waits.)
func becomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w (workers forked by a zygote would not be the master's children; set lazy-apps = true)", err)
	}
	return nil
}
