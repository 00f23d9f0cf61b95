package python_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/worker/python"
)

// worker.py's scoreboard writer keeps running totals in Python variables
// rather than reading the shared words back; what it writes must still be
// exactly what the Go reader (stats, harakiri, max-requests) expects.
func TestPythonScoreboardWritesWhatGoReads(t *testing.T) {
	needPython(t)
	sb, err := ipc.CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	dir := t.TempDir()
	script := filepath.Join(dir, python.FileName)
	if _, err := python.WriteAll(filepath.Dir(script), 0o600); err != nil {
		t.Fatal(err)
	}
	const driver = `
import importlib.util, sys
spec = importlib.util.spec_from_file_location("w", sys.argv[1])
w = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w)
begin, end, read_error = w.Scoreboard(3, 1).core(1)
for i in range(5):
    begin(w.VARS_UWSGI, b"vars%d" % i)
    end(100 + i, (0, 1000, 2000, 3000, 20000000)[i], i == 3, i == 4, (200, 302, 404, 503, 700)[i])
read_error()
_, end0, _ = w.Scoreboard(3, 1).core(0)
for us in [int(u) for u in sys.argv[2].split(",")]:
    end0(0, us, False, False, (-5, 999, 0)[us % 3])
begin(w.VARS_HTTP, b"GET /x HTTP/1.1\r\n")
print(begin(w.VARS_UWSGI, memoryview(b"x" * 2000)[4:]))
`
	// Core 0: every bound, one below and one above it, with statuses no
	// class has (-5, 999, 0): the lookup tables agree with ipc's rules.
	var edges []string
	wantEdges := make([]uint64, ipc.DurationBuckets)
	for _, b := range ipc.DurationBoundsUs {
		for _, us := range []uint64{b - 1, b, b + 1} {
			edges = append(edges, strconv.FormatUint(us, 10))
			wantEdges[ipc.DurationBucket(us)]++
		}
	}
	before := monotonic(t)
	cmd := exec.Command(python3, "-c", driver, script, strings.Join(edges, ","))
	cmd.ExtraFiles = []*os.File{sb.File}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	after := monotonic(t)
	start, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		t.Fatalf("begin returned %q, want the start in ns", out)
	}
	if got := sb.Core(1, 1, ipc.CoreStartNs); got != start || start < before || start > after {
		t.Fatalf("start %d (begin returned %d), want it within CLOCK_MONOTONIC [%d, %d]", got, start, before, after)
	}
	got := []uint64{sb.Core(1, 1, ipc.CoreInRequest), sb.Core(1, 1, ipc.CoreRequests), sb.Core(1, 1, ipc.CoreTx),
		sb.Core(1, 1, ipc.CoreRtTotalUs), sb.Core(1, 1, ipc.CoreExceptions), sb.Core(1, 1, ipc.CoreWriteErrors),
		sb.Core(1, 1, ipc.CoreReadErrors), sb.Core(1, 0, ipc.CoreRequests), sb.Core(0, 1, ipc.CoreRequests)}
	if want := []uint64{1, 5, 510, 20006000, 1, 1, 1, uint64(len(edges)), 0}; !slices.Equal(got, want) {
		t.Fatalf("in_request, requests, tx, rt, exceptions, write errors, read errors, other core, other slot = %v, want %v", got, want)
	}
	// One request in each class (700 is no valid status: word 0); the
	// durations fall where ipc.DurationBucket puts them.
	var classes, buckets, wantBuckets []uint64
	for w := ipc.CoreStatus; w < ipc.CoreStatus+ipc.StatusClasses; w++ {
		classes = append(classes, sb.Core(1, 1, w))
	}
	wantBuckets = make([]uint64, ipc.DurationBuckets)
	for _, us := range []uint64{0, 1000, 2000, 3000, 20000000} {
		wantBuckets[ipc.DurationBucket(us)]++
	}
	for w := ipc.CoreDuration; w < ipc.CoreDuration+ipc.DurationBuckets; w++ {
		buckets = append(buckets, sb.Core(1, 1, w))
	}
	if want := []uint64{1, 0, 1, 1, 1, 1}; !slices.Equal(classes, want) {
		t.Errorf("status class words %v, want %v", classes, want)
	}
	if !slices.Equal(buckets, wantBuckets) {
		t.Errorf("duration bucket words %v, want %v", buckets, wantBuckets)
	}
	buckets = buckets[:0]
	for w := ipc.CoreDuration; w < ipc.CoreDuration+ipc.DurationBuckets; w++ {
		buckets = append(buckets, sb.Core(1, 0, w))
	}
	if !slices.Equal(buckets, wantEdges) {
		t.Errorf("core 0 duration bucket words %v at the bounds, want %v", buckets, wantEdges)
	}
	if other := sb.Core(1, 0, ipc.CoreStatus); other != uint64(len(edges)) {
		t.Errorf("core 0 counted %d requests of status -5, 999 or 0 in class 0, want %d", other, len(edges))
	}
	// The format is stored only when it changes (uwsgi, http, uwsgi here);
	// vars are cut at VarsBytes.
	if f, raw := sb.Vars(1, 1); f != ipc.VarsUwsgi || string(raw) != strings.Repeat("x", ipc.VarsBytes) {
		t.Fatalf("vars %d %q, want the last request's, cut to %d bytes", f, raw, ipc.VarsBytes)
	}
	if sb.Worker(1, ipc.WkPID) == 0 {
		t.Fatal("worker pid not written")
	}
}

func monotonic(t *testing.T) uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return uint64(ts.Nano())
}
