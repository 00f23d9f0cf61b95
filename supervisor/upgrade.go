package supervisor

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/socket"
)

// An in-place upgrade (SIGUSR2, `supervise upgrade`) re-executes the
// master's binary with the same pid: systemd sees no change of main PID,
// the listening sockets stay open (their fds survive exec), and the
// running workers stay its children. The new master adopts them as the
// current generation and replaces them gracefully.

// envUpgrade carries the state across exec.
const envUpgrade = "SUPERVISE_UPGRADE_STATE"

type upgradeState struct {
	Listeners  []int // fds of the listening sockets
	LifelineR  int
	LifelineW  int
	LogR       int
	LogW       int
	ProcLogs   []int // read ends of the running processes' own log pipes
	Board      int   // the scoreboard memfd, -1 if none
	RuntimeDir string
	// The uwsgi module's shared state (caches.go), kept so the workers of
	// both masters share locks and caches; SemPrefix "" when the previous
	// master had none (an older binary).
	Locks           int
	Caches          []int
	CacheNames      []string
	SemPrefix       string
	master.Handover // generation, workers, daemons: the loop's part
}

// upgradeTo execs path with the current state; it returns only on failure.
func upgradeTo(path string, env ipc.Env, st upgradeState) error {
	fds := append([]int{st.LifelineR, st.LifelineW, st.LogR, st.LogW}, st.Listeners...)
	fds = append(fds, st.ProcLogs...)
	if st.Board >= 0 {
		fds = append(fds, st.Board)
	}
	if st.SemPrefix != "" {
		fds = append(append(fds, st.Locks), st.Caches...)
	}
	for _, fd := range fds {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil {
			return fmt.Errorf("keep fd %d across exec: %w", fd, err)
		}
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	next := append(env.Filter(func(name string) bool { return name == envUpgrade }), envUpgrade+"="+string(raw))
	err = syscall.Exec(path, os.Args, next)
	for _, fd := range fds { // still here: exec failed; keep them private again
		unix.CloseOnExec(fd)
	}
	return fmt.Errorf("exec %s: %w", path, err)
}

// inheritedState reads what the previous master left, if this process is
// an upgrade.
func inheritedState(env ipc.Env) (*upgradeState, error) {
	raw, ok := env.Lookup(envUpgrade)
	if !ok {
		return nil, nil
	}
	var st upgradeState
	if err := json.Unmarshal([]byte(raw), &st); err != nil {
		return nil, fmt.Errorf("upgrade state: %w", err)
	}
	return &st, nil
}

// listenersToKeep lists the sockets an upgrade may adopt.
func (st *upgradeState) activated() *socket.Activated {
	if st == nil {
		return socket.FromFDs(nil)
	}
	return socket.FromFDs(st.Listeners)
}
