package supervisor

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingWriter counts the Writes the sink makes to a logger.
type countingWriter struct {
	mu     sync.Mutex
	writes int
	buf    bytes.Buffer
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Lines waiting in four processes' pipes reach the log in one Write: the
// master wakes once per batch for all the workers, not once per pipe.
func TestCollectorWritesEveryPipesLinesInOneWrite(t *testing.T) {
	out := &countingWriter{}
	s := &LogSink{readers: map[*os.File]bool{}, loggers: []io.Writer{out}}
	var rs []*os.File
	var want []string
	for p := 0; p < 4; p++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 20; i++ {
			line := fmt.Sprintf("worker %d request %d", p, i)
			fmt.Fprintf(w, "%s\n", line)
			want = append(want, line)
		}
		w.Close()
		rs = append(rs, r)
	}
	s.drainAll(rs)
	s.Flush(10 * time.Second)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got lines\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if out.writes != 1 {
		t.Fatalf("the lines of 4 pipes took %d writes, want 1", out.writes)
	}
	if len(s.openPipes()) != 0 {
		t.Fatalf("closed pipes still listed for an upgrade: %v", s.openPipes())
	}
}

// Through the collector, as through lineDrain: lines written in pieces by
// two processes, with the master's own lines between the pieces, reach
// the file whole and in each writer's order; a last unterminated line is
// ended; a pipe added while the collector waits on a silent one is
// drained at once (its poll is woken), and Flush waits for both.
func TestCollectorKeepsLinesWholeAndTakesNewPipes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	s, err := OpenLogSink(path)
	if err != nil {
		t.Fatal(err)
	}
	quietR, quietW, _ := os.Pipe()
	s.drain(quietR)
	fmt.Fprintf(quietW, "quiet ready\n")
	waitForLog(t, path, "quiet ready\n", 1)
	for deadline := time.Now().Add(10 * time.Second); ; { // until the collector waits in poll
		s.pipes.Lock()
		waits := s.coll.waits
		s.pipes.Unlock()
		if waits > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the collector never waited for the quiet pipe")
		}
		time.Sleep(time.Millisecond)
	}
	const lines = 200
	var wg sync.WaitGroup
	for p := 0; p < 2; p++ {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		s.drain(r)
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := 0; i < lines; i++ {
				w.WriteString(fmt.Sprintf("proc%d line %d ", p, i))
				s.Write([]byte("master line\n"))
				w.WriteString(strings.Repeat("x", 100) + " end\n")
			}
			w.WriteString("unterminated")
			w.Close()
		}(p)
	}
	wg.Wait()
	waitForLog(t, path, "unterminated\n", 2)
	quietW.Close()
	s.Flush(10 * time.Second)
	raw, _ := os.ReadFile(path)
	wantTwoProcessesLines(t, raw, lines, "quiet ready")
}

// A process that never writes a newline is cut at maxLogLine, and a burst
// larger than the biggest buffer gets through whole and in order.
func TestCollectorBoundsALineAndPassesABurst(t *testing.T) {
	f, _ := os.CreateTemp(t.TempDir(), "log")
	s := &LogSink{f: f, readers: map[*os.File]bool{}}
	r, w, _ := os.Pipe()
	var burst bytes.Buffer
	for i := 0; burst.Len() < 3*logDrainMax; i++ {
		fmt.Fprintf(&burst, "line %d %s\n", i, strings.Repeat("z", i%300))
	}
	want := burst.String() + strings.Repeat("y", maxLogLine) + "\n" + strings.Repeat("y", maxLogLine) + "\nyyyyy\n"
	s.drain(r)
	go func() {
		w.Write(burst.Bytes())
		w.Write(bytes.Repeat([]byte("y"), 2*maxLogLine+5))
		w.Close()
	}()
	s.Flush(10 * time.Second)
	raw, _ := os.ReadFile(f.Name())
	if string(raw) != want {
		t.Fatalf("%d bytes in, %d out, or out of order", len(want), len(raw))
	}
}

// waitForLog waits until the file at path holds n of s.
func waitForLog(t *testing.T, path, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if raw, _ := os.ReadFile(path); strings.Count(string(raw), s) >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	raw, _ := os.ReadFile(path)
	t.Fatalf("%s never held %d of %q; its end: %q", path, n, s, raw[max(0, len(raw)-300):])
}
