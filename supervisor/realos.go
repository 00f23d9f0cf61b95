package supervisor

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v3/process"

	"github.com/supervise-go/supervise/master"
)

// realOS starts processes with fork+exec and reaps them with wait4(-1).
// Go's os/exec must not be used for children of the master: its Wait would
// race with Reap for the same pids.
func realOS() master.OS {
	return master.OS{Start: forkExec, Signal: syscall.Kill, Reap: reapAll, Now: time.Now, RSS: residentBytes}
}

func forkExec(spec *master.ProcSpec) (int, error) {
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
