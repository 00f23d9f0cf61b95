package master

import (
	"syscall"
	"testing"
	"time"
)

// userBoard is a fake board with set_user_harakiri deadlines.
type userBoard struct {
	*fakeBoard
	expired map[int]bool
}

func (b *userBoard) UserHarakiri(slot int) (time.Duration, string, bool) {
	return time.Second, "core 0", b.expired[slot]
}

// A deadline the app set (uwsgi.set_user_harakiri) kills its worker even
// with the harakiri option off, and the slot is refilled at once.
func TestUserHarakiriKillsWithoutTheOption(t *testing.T) {
	f := newFake()
	m := newTestMaster(f, testPlan(2), nil, Hooks{})
	board := &userBoard{fakeBoard: newFakeBoard(), expired: map[int]bool{}}
	m.SetBoard(board)
	m.step(event{})
	readyAll(m)
	m.step(event{})
	if len(f.signals[f.started[1]]) != 0 {
		t.Fatal("killed before any deadline passed")
	}
	board.expired[1] = true
	m.step(event{})
	if got := f.signals[f.started[1]]; len(got) != 1 || got[0] != syscall.SIGKILL {
		t.Fatalf("a worker past its own deadline got %v, want SIGKILL", got)
	}
	if len(f.signals[f.started[0]]) != 0 {
		t.Fatal("the other worker was signalled")
	}
	delete(board.expired, 1)
	f.killed(f.started[1])
	m.step(event{})
	if len(f.started) != 3 || m.slotCopies()[1].Harakiris != 1 {
		t.Fatalf("started %d, harakiris %d: want a replacement at once and one harakiri", len(f.started), m.slotCopies()[1].Harakiris)
	}
}
