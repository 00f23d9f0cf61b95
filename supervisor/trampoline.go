package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/supervise-go/supervise/ipc"
)

// TrampolineArg as the first argument makes supervise exec a worker
// program with LISTEN_PID set to its own pid. Programs that follow
// systemd's socket activation check LISTEN_PID == getpid(); Go cannot set
// it between fork and exec, so the master starts itself, and this sets it
// and execs the program (exec keeps the pid).
const TrampolineArg = "__exec-worker"

// Trampoline runs with the arguments after TrampolineArg: the program's
// path, then its argv. It returns only on failure.
func Trampoline(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "supervise: the exec trampoline needs a program and its argv")
		return 2
	}
	os.Setenv(ipc.EnvListenPID, strconv.Itoa(os.Getpid()))
	err := syscall.Exec(args[0], args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "supervise: exec %s: %v\n", args[0], err)
	return 127
}
