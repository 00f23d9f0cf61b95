package ipc

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestScoreboardSharedBetweenMappings(t *testing.T) {
	master, err := CreateScoreboard(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	// A worker maps the same memfd through its own descriptor.
	dup, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(master.File.Fd())), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := OpenScoreboard(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	if worker.Slots() != 4 || worker.Cores() != 2 {
		t.Fatalf("dimensions %d x %d", worker.Slots(), worker.Cores())
	}
	worker.SetWorker(3, WkPID, 4242)
	worker.SetCore(3, 0, CoreRequests, 5)
	worker.SetCore(3, 1, CoreInRequest, 1)
	worker.SetVars(3, 1, VarsHTTP, []byte("GET / HTTP/1.1\r\n"))
	if master.Worker(3, WkPID) != 4242 || master.Core(3, 0, CoreRequests) != 5 || master.Core(3, 1, CoreInRequest) != 1 {
		t.Fatal("the master does not see the worker's writes")
	}
	if f, raw := master.Vars(3, 1); f != VarsHTTP || string(raw) != "GET / HTTP/1.1\r\n" {
		t.Fatalf("vars %d %q", f, raw)
	}
	if master.Worker(2, WkPID) != 0 || master.Core(3, 0, CoreInRequest) != 0 {
		t.Fatal("a write leaked into a neighbouring slot or core")
	}
	master.ClearSlot(3)
	if worker.Core(3, 0, CoreRequests) != 0 || worker.Core(3, 1, CoreInRequest) != 0 {
		t.Fatal("ClearSlot left data")
	}
}

func TestOpenRejectsForeignMemory(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(4096)
	if _, err := OpenScoreboard(f); err == nil {
		t.Fatal("opened a file that is not a scoreboard")
	}
}

// Each field a worker can corrupt: the check names it, and the readers
// stay inside the mapping whatever is stored.
func TestCheckSlotNamesEachBadField(t *testing.T) {
	const pid, now = 4242, uint64(1e12)
	cases := []struct {
		name  string
		write func(b *Scoreboard)
		want  string // in the error; "" = plausible
	}{
		{"clean", func(b *Scoreboard) {}, ""},
		{"pid not yet written", func(b *Scoreboard) { b.SetWorker(1, WkPID, 0) }, ""},
		{"honest request", func(b *Scoreboard) {
			b.SetCore(1, 1, CoreStartNs, now-5)
			b.SetVars(1, 1, VarsUwsgi, []byte("x"))
			b.SetCore(1, 1, CoreInRequest, 1)
		}, ""},
		{"huge counters", func(b *Scoreboard) { b.SetCore(1, 0, CoreRequests, ^uint64(0)) }, ""},
		{"another pid", func(b *Scoreboard) { b.SetWorker(1, WkPID, 1) }, "pid is 1"},
		{"accepting flag", func(b *Scoreboard) { b.SetWorker(1, WkAccepting, 7) }, "accepting flag is 7"},
		{"in-request flag", func(b *Scoreboard) { b.SetCore(1, 1, CoreInRequest, 2) }, "core 1: in-request flag is 2"},
		{"vars length", func(b *Scoreboard) { b.SetCore(1, 0, CoreVarsLen, ^uint64(0)) }, "core 0: vars length is 18446744073709551615"},
		{"vars length just over", func(b *Scoreboard) { b.SetCore(1, 0, CoreVarsLen, VarsBytes+1) }, "vars length is 1025"},
		{"vars format", func(b *Scoreboard) { b.SetCore(1, 0, CoreVarsFormat, 3) }, "vars format is 3"},
		{"start in the future", func(b *Scoreboard) {
			b.SetCore(1, 0, CoreStartNs, now+uint64(2e9))
			b.SetCore(1, 0, CoreInRequest, 1)
		}, "after now"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := CreateScoreboard(3, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			b.SetWorker(1, WkPID, pid)
			c.write(b)
			err = b.CheckSlot(1, pid, now)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("an honest slot was flagged: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			for core := 0; core < 2; core++ {
				if _, raw := b.Vars(1, core); len(raw) > VarsBytes {
					t.Fatalf("Vars returned %d bytes", len(raw))
				}
			}
			if b.CheckSlot(0, 1, now) != nil || b.CheckSlot(2, 1, now) != nil {
				t.Fatal("a write into slot 1 flagged a neighbour")
			}
		})
	}
}

// Indexes outside the mapping read as zero instead of panicking.
func TestReadsOutsideTheMapping(t *testing.T) {
	b, err := CreateScoreboard(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, slot := range []int{-1, 2, 1 << 30} {
		if b.Worker(slot, WkPID) != 0 || b.Core(slot, 0, CoreRequests) != 0 || b.CheckSlot(slot, 1, 0) == nil {
			t.Fatalf("slot %d", slot)
		}
		if _, raw := b.Vars(slot, 0); raw != nil {
			t.Fatalf("vars of slot %d", slot)
		}
		b.SetCore(slot, 0, CoreRequests, 1) // ignored
		b.ClearSlot(slot)
	}
	if b.Core(0, 1, CoreRequests) != 0 || b.Core(0, 0, CoreWords) != 0 || b.Worker(0, WkWords) != 0 {
		t.Fatal("a core or word outside the slot read as non-zero")
	}
}

// A header a worker overwrote: found, rewritten; a worker opening the
// memfd refuses dimensions that do not fit the mapping.
func TestHeaderTampering(t *testing.T) {
	master, err := CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	for _, w := range []int{HdrMagic, HdrVersion, HdrSlots, HdrCores, HdrSlotBytes, HdrCoreBytes} {
		master.store(w*8, 1<<40)
		if master.CheckHeader() == nil {
			t.Fatalf("header word %d overwritten: not noticed", w)
		}
		if w == HdrSlots || w == HdrCores {
			dup, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(master.File.Fd())), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if sb, err := OpenScoreboard(dup); err == nil {
				sb.Close()
				t.Fatalf("opened a scoreboard whose header word %d claims 1<<40", w)
			}
		}
		master.RepairHeader()
		if err := master.CheckHeader(); err != nil {
			t.Fatalf("after repair: %v", err)
		}
	}
}

func TestAddCoreAddsToOneWordOfOneCore(t *testing.T) {
	b, err := CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.AddCore(1, 1, CoreTx, 5)
	b.AddCore(1, 1, CoreTx, 7)
	b.AddCore(1, 1, CoreWords, 1) // outside the core: ignored
	b.AddCore(2, 0, CoreTx, 1)    // outside the scoreboard: ignored
	if got := [4]uint64{b.Core(1, 1, CoreTx), b.Core(1, 0, CoreTx), b.Core(0, 1, CoreTx), b.Core(1, 1, CoreTx+1)}; got != [4]uint64{12, 0, 0, 0} {
		t.Fatalf("tx words %v, want only slot 1 core 1 at 12", got)
	}
}
