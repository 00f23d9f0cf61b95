package supervisor

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// capSysNice is CAP_SYS_NICE's bit in /proc/PID/status's CapEff.
const capSysNice = 23

// reniceIfAllowed is master.OS.Renice when this master may set a lowered
// process back to its own priority: with CAP_SYS_NICE, or an RLIMIT_NICE
// that reaches its nice value. Otherwise nil: lowering a reload's
// process it could not restore would leave the new workers slower.
func reniceIfAllowed() func(pid, below int) error {
	base, err := ownNice()
	if err != nil || !mayRaisePriorityTo(base) {
		return nil
	}
	return func(pid, below int) error { return reniceThreads(pid, base+below) }
}

// ownNice is the master's nice value (-20..19).
func ownNice() (int, error) {
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		return 0, err
	}
	return 20 - raw, nil // the system call answers 20 - nice
}

func mayRaisePriorityTo(nice int) bool {
	if hasEffectiveCap(capSysNice) {
		return true
	}
	var lim unix.Rlimit
	return unix.Getrlimit(unix.RLIMIT_NICE, &lim) == nil && lim.Cur >= uint64(20-nice)
}

func hasEffectiveCap(bit uint) bool {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if hex, ok := strings.CutPrefix(s.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return err == nil && caps&(1<<bit) != 0
		}
	}
	return false
}

// reniceThreads sets every thread of pid to nice: a nice value is a
// thread's, and a worker may have started its threads while it loaded.
func reniceThreads(pid, nice int) error {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return unix.Setpriority(unix.PRIO_PROCESS, pid, nice)
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, nice); err != nil && err != unix.ESRCH {
			return err
		}
	}
	return nil
}
