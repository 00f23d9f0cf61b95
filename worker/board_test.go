package worker

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
)

// The board derives request starts from Go's clock instead of a
// clock_gettime syscall per request; the master compares them with its
// own CLOCK_MONOTONIC (harakiri, req_info), so they must agree.
func TestBoardWritesStartsOnTheMastersClockAndCounts(t *testing.T) {
	sb, err := ipc.CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	fd, err := unix.Dup(int(sb.File.Fd())) // openBoard owns the fd it is given
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(ipc.EnvScoreboardFD, strconv.Itoa(fd))
	t.Setenv(ipc.EnvScoreboardIdx, "1")
	b := openBoard()
	if b == nil {
		t.Fatal("openBoard: nil")
	}
	defer b.sb.Close()
	time.Sleep(20 * time.Millisecond) // not a wait: a start stuck at the base time would now be 20 ms early
	for i := 0; i < 3; i++ {
		before := monotonicNs()
		b.begin(1, ipc.VarsUwsgi, []byte("vars"))
		after := monotonicNs()
		start := sb.Core(1, 1, ipc.CoreStartNs)
		if start+uint64(time.Millisecond) < before || start > after+uint64(time.Millisecond) {
			t.Fatalf("start %d outside [%d, %d] (CLOCK_MONOTONIC around begin)", start, before, after)
		}
		if sb.Core(1, 1, ipc.CoreInRequest) != 1 {
			t.Fatal("in_request not set by begin")
		}
		if f, raw := sb.Vars(1, 1); f != ipc.VarsUwsgi || string(raw) != "vars" {
			t.Fatalf("vars %d %q", f, raw)
		}
		b.end(1, []int{200, 404, 0}[i], 100, []time.Duration{1500 * time.Microsecond, 1500 * time.Microsecond, 12 * time.Second}[i], i == 2)
	}
	got := []uint64{sb.Core(1, 1, ipc.CoreInRequest), sb.Core(1, 1, ipc.CoreRequests), sb.Core(1, 1, ipc.CoreTx),
		sb.Core(1, 1, ipc.CoreRtTotalUs), sb.Core(1, 1, ipc.CoreExceptions), sb.Core(1, 0, ipc.CoreRequests), sb.Core(0, 1, ipc.CoreRequests)}
	if want := []uint64{0, 3, 300, 12003000, 1, 0, 0}; !slices.Equal(got, want) {
		t.Fatalf("in_request, requests, tx, rt, exceptions, other core, other slot = %v, want %v", got, want)
	}
	var classes, buckets []uint64
	for w := ipc.CoreStatus; w < ipc.CoreStatus+ipc.StatusClasses; w++ {
		classes = append(classes, sb.Core(1, 1, w))
	}
	for w := ipc.CoreDuration; w < ipc.CoreDuration+ipc.DurationBuckets; w++ {
		buckets = append(buckets, sb.Core(1, 1, w))
	}
	// 200 and 404 in 2xx and 4xx, no status in "other"; 1.5 ms twice in
	// the 2.5 ms bucket, 12 s in the last (+Inf).
	if want := []uint64{1, 0, 1, 0, 1, 0}; !slices.Equal(classes, want) {
		t.Errorf("status class words %v, want %v", classes, want)
	}
	if want := []uint64{0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}; !slices.Equal(buckets, want) {
		t.Errorf("duration bucket words %v, want %v", buckets, want)
	}
}

// monotonicNs reads CLOCK_MONOTONIC by syscall: the reference the
// board's clock must agree with.
func monotonicNs() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}
