package master

import "github.com/supervise-go/supervise/ipc"

// boardSlots hands out scoreboard slots; a slot is zeroed before a new
// worker gets it, while no process writes it.
type boardSlots struct {
	board *ipc.Scoreboard
	free  []int
}

func newBoardSlots(b *ipc.Scoreboard) *boardSlots {
	bs := &boardSlots{board: b}
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

func (b *boardSlots) Take(slot int) {
	for i, s := range b.free {
		if s == slot {
			b.free = append(b.free[:i], b.free[i+1:]...)
			return
		}
	}
}
