package ipc

import (
	"os"
	"strconv"
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
