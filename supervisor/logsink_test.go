package supervisor

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Two processes writing a line in pieces, interleaved with the master's
// own lines: each line reaches the file whole and in its writer's order.
func TestLineDrainKeepsLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	s, err := OpenLogSink(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const lines = 200
	for p := 0; p < 2; p++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { lineDrain(s, r); close(done) }()
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				w.WriteString(fmt.Sprintf("proc%d line %d ", p, i))
				s.Write([]byte("master line\n")) // between the two halves
				w.WriteString(strings.Repeat("x", 100) + " end\n")
			}
			w.WriteString("unterminated") // ended with a newline at EOF
			w.Close()
			<-done
		}(p)
	}
	wg.Wait()
	raw, _ := os.ReadFile(path)
	wantTwoProcessesLines(t, raw, lines)
}

// A process that never writes a newline is cut at maxLogLine.
func TestLineDrainBoundsALine(t *testing.T) {
	var out bytes.Buffer
	s := &LogSink{f: nil}
	r, w, _ := os.Pipe()
	f, _ := os.CreateTemp(t.TempDir(), "log")
	s.f = f
	go func() { w.Write(bytes.Repeat([]byte("y"), 3*maxLogLine+5)); w.Close() }()
	lineDrain(s, r)
	raw, _ := os.ReadFile(f.Name())
	out.Write(raw)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 4 || len(lines[0]) != maxLogLine || len(lines[3]) != 5 {
		t.Fatalf("got %d lines (first %d bytes, last %d), want 3 of %d and one of 5", len(lines), len(lines[0]), len(lines[len(lines)-1]), maxLogLine)
	}
}

// log-maxsize renames the file once it outgrows the limit, to
// log-backupname or to "<logto>.<unix time>", and goes on in a new one;
// no line is lost or split between the two.
func TestRotationBySize(t *testing.T) {
	for _, backup := range []string{"", "old.log"} {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		s, err := OpenLogSink(path)
		if err != nil {
			t.Fatal(err)
		}
		s.SetRotation(1000, map[string]string{"": "", "old.log": filepath.Join(dir, "old.log")}[backup])
		s.rot.now = func() time.Time { return time.Unix(1_700_000_000, 0) }
		for i := 0; i < 30; i++ {
			fmt.Fprintf(s, "request %02d %s\n", i, strings.Repeat("z", 40)) // 52 bytes each
		}
		rotated := filepath.Join(dir, "app.log.1700000000")
		if backup != "" {
			rotated = filepath.Join(dir, backup)
		}
		old, err := os.ReadFile(rotated)
		if err != nil {
			t.Fatalf("backup %q: %v", backup, err)
		}
		cur, _ := os.ReadFile(path)
		if n := strings.Count(string(old), "request "); n != 20 || !strings.Contains(string(old), "log-maxsize reached, rotating: size=1040 rotated_to="+rotated) {
			t.Fatalf("rotated file has %d request lines, want 20 and the rotation line:\n%s", n, old)
		}
		if n := strings.Count(string(cur), "request "); n != 10 || !strings.HasPrefix(string(cur), "request 20 ") {
			t.Fatalf("new file has %d request lines, want 10 from request 20:\n%s", n, cur)
		}
	}
}

// A process that writes a few lines costs the master a small buffer, not
// logDrainMax; a burst still gets through whole and in order.
func TestLineDrainBufferGrowsOnlyUnderLoad(t *testing.T) {
	f, _ := os.CreateTemp(t.TempDir(), "log")
	s := &LogSink{f: f}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	lineDrain(s, strings.NewReader("ready\nserving\n"))
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got >= logDrainMax/4 {
		t.Fatalf("draining two lines allocated %d bytes, want under %d", got, logDrainMax/4)
	}
	var burst bytes.Buffer
	for i := 0; burst.Len() < 3*logDrainMax; i++ {
		fmt.Fprintf(&burst, "line %d %s\n", i, strings.Repeat("z", i%300))
	}
	want := burst.String()
	f.Truncate(0)
	f.Seek(0, 0)
	lineDrain(s, &burst)
	raw, _ := os.ReadFile(f.Name())
	if string(raw) != want {
		t.Fatalf("a burst of %d bytes came out as %d bytes, or out of order", len(want), len(raw))
	}
}

// wantTwoProcessesLines checks a log two processes wrote through the sink
// (lines "procP line I xxx... end" each, then "unterminated" without a
// newline) with "master line"s between their halves: every line whole,
// each process's in order, and the other lines only those named.
func wantTwoProcessesLines(t *testing.T, raw []byte, lines int, others ...string) {
	t.Helper()
	next := [2]int{}
	for _, l := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		var p, i int
		switch {
		case l == "master line" || l == "unterminated" || slices.Contains(others, l):
		case strings.HasSuffix(l, strings.Repeat("x", 100)+" end"):
			if _, err := fmt.Sscanf(l, "proc%d line %d ", &p, &i); err != nil || i != next[p] {
				t.Fatalf("line %q out of order (want line %d of proc%d)", l, next[p], p)
			}
			next[p]++
		default:
			t.Fatalf("spliced line: %q", l)
		}
	}
	if next != [2]int{lines, lines} || strings.Count(string(raw), "unterminated\n") != 2 {
		t.Fatalf("lines per process %v, want %d each, and both unterminated ends", next, lines)
	}
}
