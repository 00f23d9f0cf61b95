package python_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// writeCalls is the number of write system calls (write, writev, send...)
// process pid has made: syscw of /proc/PID/io.
func writeCalls(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		t.Skipf("no /proc/PID/io here: %v", err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "syscw: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("no syscw in /proc/%d/io:\n%s", pid, raw)
	return 0
}

// Requests one after another, each sent as soon as the one before was
// answered (nginx's pattern at a moderate rate: the worker's queue
// empties after every request), cost one write each, the response: their
// request lines go out together once no connection came for a moment,
// not one write each time the queue empties. All the lines arrive.
func TestRequestLinesOfBackToBackRequestsShareAWrite(t *testing.T) {
	w := startWorker(t, testApp, nil, "SUPERVISE_THREADS=1")
	w.uwsgiDo(t, "GET", "/warm", nil)
	w.waitLog(t, "path=/warm")
	pid := w.cmd.Process.Pid
	before := writeCalls(t, pid)
	const n = 20
	for i := 0; i < n; i++ {
		if resp, _ := w.uwsgiDo(t, "GET", fmt.Sprintf("/b%d", i), nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
	}
	w.waitLog(t, fmt.Sprintf("path=/b%d ", n-1))
	writes := writeCalls(t, pid) - before
	for i := 0; i < n; i++ {
		if !strings.Contains(w.log.String(), fmt.Sprintf("path=/b%d ", i)) {
			t.Fatalf("no request line for /b%d", i)
		}
	}
	// n responses, and the lines in a few writes (a slow turn of this
	// test between two requests may flush early); one write a line
	// would be 2n.
	if writes > n+n/4 {
		t.Fatalf("%d requests took %d writes, want at most %d: request lines are written one by one", n, writes, n+n/4)
	}
}
