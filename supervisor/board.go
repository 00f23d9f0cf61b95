package supervisor

import (
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/stats"
)

// boardSlots hands out scoreboard slots; a slot is zeroed before a new
// worker gets it, while no process writes it.
type boardSlots struct {
	board *ipc.Scoreboard
	free  []int
	clock ipc.MonotonicClock
}

func newBoardSlots(b *ipc.Scoreboard) *boardSlots {
	bs := &boardSlots{board: b, clock: ipc.NewMonotonicClock()}
	for i := b.Slots() - 1; i >= 0; i-- {
		bs.free = append(bs.free, i)
	}
	return bs
}

func (b *boardSlots) Acquire() int {
	if len(b.free) == 0 {
		return -1
	}
	slot := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	b.board.ClearSlot(slot)
	return slot
}

func (b *boardSlots) Release(slot int) { b.free = append(b.free, slot) }

func (b *boardSlots) Oldest(slot int) (time.Duration, string, bool) {
	now := b.clock.Now()
	var oldest time.Duration
	core := -1
	for c := 0; c < b.board.Cores(); c++ {
		if b.board.Core(slot, c, ipc.CoreInRequest) != 1 {
			continue
		}
		start := b.board.Core(slot, c, ipc.CoreStartNs)
		if start == 0 || start > now {
			continue
		}
		if age := time.Duration(now - start); age > oldest {
			oldest, core = age, c
		}
	}
	if core < 0 {
		return 0, "", false
	}
	return oldest, stats.RequestLine(b.board.Vars(slot, core)), true
}

func (b *boardSlots) Requests(slot int) uint64 {
	var n uint64
	for c := 0; c < b.board.Cores(); c++ {
		n += b.board.Core(slot, c, ipc.CoreRequests)
	}
	return n
}

func (b *boardSlots) Take(slot int) {
	for i, s := range b.free {
		if s == slot {
			b.free = append(b.free[:i], b.free[i+1:]...)
			return
		}
	}
}

func (b *boardSlots) RunningTime(slot int) time.Duration {
	var us uint64
	for c := 0; c < b.board.Cores(); c++ {
		us += b.board.Core(slot, c, ipc.CoreRtTotalUs)
	}
	return time.Duration(us) * time.Microsecond
}

func (b *boardSlots) Cores() int { return b.board.Cores() }

func (b *boardSlots) Check(slot, pid int) error {
	return b.board.CheckSlot(slot, pid, b.clock.Now())
}

func (b *boardSlots) CheckHeader() error {
	err := b.board.CheckHeader()
	if err != nil {
		b.board.RepairHeader()
	}
	return err
}
