package supervisor

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/stats"
)

// FuzzScoreboardReaders writes arbitrary words at arbitrary offsets into a
// real scoreboard through a second mapping of its memfd (what a hostile
// worker holds) while every master-side reader runs: the loop's view
// (harakiri, max-requests, cheaper, the tamper check) and the stats
// collector. No write may make a reader panic or return vars larger than
// the area. The input is a list of 10-byte writes: a u16 word index
// (modulo the scoreboard's size) and a u64 value.
func FuzzScoreboardReaders(f *testing.F) {
	seed := func(writes ...[2]uint64) []byte {
		var b []byte
		for _, w := range writes {
			b = binary.LittleEndian.AppendUint16(b, uint16(w[0]))
			b = binary.LittleEndian.AppendUint64(b, w[1])
		}
		return b
	}
	core0 := uint64(ipc.HeaderWords + ipc.WkWords) // slot 0, core 0
	f.Add(seed([2]uint64{core0 + ipc.CoreVarsLen, ^uint64(0)}, [2]uint64{core0 + ipc.CoreInRequest, 1}))
	f.Add(seed([2]uint64{ipc.HdrCores, 1 << 40}, [2]uint64{ipc.HdrSlots, 1 << 40}))
	f.Add(seed([2]uint64{core0 + ipc.CoreStartNs, ^uint64(0)}, [2]uint64{core0 + ipc.CoreInRequest, 1},
		[2]uint64{core0 + ipc.CoreVarsFormat, ipc.VarsHTTP}, [2]uint64{core0 + ipc.CoreVarsLen, ipc.VarsBytes}))
	f.Fuzz(func(t *testing.T, data []byte) {
		const slots, cores = 2, 2
		sb, err := ipc.CreateScoreboard(slots, cores)
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		words := int(boardFileSize(t, sb.File) / 8)
		hostile, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(sb.File.Fd())), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		mem := mapRW(t, hostile, words*8)
		bs := newBoardSlots(sb)
		pids := []int{100, 200}
		for slot, pid := range pids {
			bs.Acquire()
			sb.SetWorker(slot, ipc.WkPID, uint64(pid))
		}
		col := &stats.Collector{Board: sb}
		infos := []stats.WorkerInfo{{ID: 1, PID: 100, Slot: 0}, {ID: 2, PID: 200, Slot: 1}, {ID: 3, PID: 300, Slot: 7}}
		read := func() {
			bs.CheckHeader()
			for slot, pid := range pids {
				bs.Check(slot, pid)
				bs.Oldest(slot)
				bs.Requests(slot)
				bs.RunningTime(slot)
				for c := 0; c < cores; c++ {
					if _, raw := sb.Vars(slot, c); len(raw) > ipc.VarsBytes {
						t.Fatalf("vars of %d bytes", len(raw))
					}
				}
			}
		}
		// The collector reads /proc for each worker (slow): it runs after
		// every 8th write and at the end; the loop's readers after each.
		for n := 0; len(data) >= 10 && n < 256; n++ {
			w := int(binary.LittleEndian.Uint16(data)) % words
			binary.LittleEndian.PutUint64(mem[w*8:], binary.LittleEndian.Uint64(data[2:]))
			data = data[10:]
			read()
			if n%8 == 7 {
				col.Collect(infos)
			}
		}
		col.Collect(infos)
	})
}

// The fuzz target interleaves writes and reads one by one; here a hostile
// goroutine writes random words through its own mapping at full speed
// while the readers run, as a worker would between two of the master's
// loads.
func TestReadersSurviveConcurrentScribbling(t *testing.T) {
	sb, err := ipc.CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	words := int(boardFileSize(t, sb.File) / 8)
	hostile, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(sb.File.Fd())), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	mem := mapRW(t, hostile, words*8)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(1, 2))
		for {
			select {
			case <-stop:
				return
			default:
			}
			v := r.Uint64()
			if r.IntN(2) == 0 { // small values hit the checks' edges more often
				v %= 2 * ipc.VarsBytes
			}
			binary.LittleEndian.PutUint64(mem[r.IntN(words)*8:], v)
		}
	}()
	bs := newBoardSlots(sb)
	col := &stats.Collector{Board: sb}
	infos := []stats.WorkerInfo{{ID: 1, PID: 100, Slot: 0}, {ID: 2, PID: 200, Slot: 1}}
	flagged := 0
	for i := 0; i < 5000; i++ {
		bs.CheckHeader()
		for slot, pid := range []int{100, 200} {
			if bs.Check(slot, pid) != nil {
				flagged++
			}
			bs.Oldest(slot)
			bs.Requests(slot)
			bs.RunningTime(slot)
		}
		if i%100 == 0 {
			col.Collect(infos)
		}
	}
	close(stop)
	<-done
	if flagged == 0 {
		t.Fatal("random writes never made a slot fail its check")
	}
}
