package worker

import (
	"os"
	"strconv"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// board is this worker's slot of the master's scoreboard; nil-safe so a
// worker without one (standalone, or no free slot) just skips counting.
type board struct {
	sb    *ipc.Scoreboard
	slot  int
	clock ipc.MonotonicClock // a request's start, without a syscall per request
}

func openBoard() *board {
	fd, err := strconv.Atoi(os.Getenv(ipc.EnvScoreboardFD))
	if err != nil {
		return nil
	}
	slot, err := strconv.Atoi(os.Getenv(ipc.EnvScoreboardIdx))
	if err != nil {
		return nil
	}
	sb, err := ipc.OpenScoreboard(os.NewFile(uintptr(fd), "scoreboard"))
	if err != nil || slot < 0 || slot >= sb.Slots() {
		return nil
	}
	sb.SetWorker(slot, ipc.WkPID, uint64(os.Getpid()))
	return &board{sb: sb, slot: slot, clock: ipc.NewMonotonicClock()}
}

func (b *board) begin(core int, format uint64, vars []byte) {
	if b == nil || core >= b.sb.Cores() {
		return
	}
	b.sb.SetCore(b.slot, core, ipc.CoreStartNs, b.clock.Now())
	b.sb.SetVars(b.slot, core, format, vars)
	b.sb.SetCore(b.slot, core, ipc.CoreInRequest, 1)
}

// end records a finished request: status is the HTTP status sent (0 for
// none), counted by class; took goes into its duration bucket.
func (b *board) end(core int, status int, tx int64, took time.Duration, failed bool) {
	if b == nil {
		return
	}
	if core >= b.sb.Cores() {
		return
	}
	add := func(word int, d uint64) { b.sb.AddCore(b.slot, core, word, d) }
	b.sb.SetCore(b.slot, core, ipc.CoreInRequest, 0)
	add(ipc.CoreRequests, 1)
	add(ipc.CoreTx, uint64(tx))
	us := uint64(took.Microseconds())
	add(ipc.CoreRtTotalUs, us)
	add(ipc.CoreStatus+ipc.StatusClass(status), 1)
	add(ipc.CoreDuration+ipc.DurationBucket(us), 1)
	if failed {
		add(ipc.CoreExceptions, 1)
	}
}

func (b *board) readError(core int) {
	if b != nil && core < b.sb.Cores() {
		b.sb.AddCore(b.slot, core, ipc.CoreReadErrors, 1)
	}
}
