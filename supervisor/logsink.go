package supervisor

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"golang.org/x/sys/unix"
)

// LogSink is where the master and, through pipes the master drains, every
// worker write their log. Owning the only descriptor of the log file lets
// the master reopen it (SIGHUP, FIFO 'l', after logrotate moved it) for
// everyone. Every Write is whole lines: the master's logger writes one line
// per call, and each process's pipe is cut at line ends (lineDrain), so the
// lines of different processes never splice.
type LogSink struct {
	mu   sync.Mutex
	path string // "" for stderr
	f    *os.File
	fail sync.Once

	json    bool        // log-encoder = json: wrap plain lines (jsonLines)
	loggers []io.Writer // the logger option's targets; then f is not written
	routes  []LogRoute  // log-route: lines that go to a named logger instead
	req     *requestLog // req-logger: where marked request lines go (reqlog.go)
	rot     rotation    // log-maxsize: rotation by size
	written int64       // bytes in the current file, for rot

	pipes   sync.Mutex
	readers map[*os.File]bool // per-process pipes being drained, for an upgrade
	active  sync.WaitGroup    // their drains, for Flush
	coll    pipeCollector     // the one goroutine that drains them (logdrain.go)
}

// OpenLogSink appends to path, or writes to stderr when path is "".
func OpenLogSink(path string) (*LogSink, error) {
	s := &LogSink{path: path, f: os.Stderr, readers: map[*os.File]bool{}}
	if path != "" {
		if err := s.reopen(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// isFile is true when the log goes to a file (logto), which Reopen opens
// again; false for stderr.
func (s *LogSink) isFile() bool { return s != nil && s.path != "" }

// reopen opens the log file again by name: after logrotate moved it
// (create style) the next line goes to the new file, and no line is
// written to the old one once Reopen returned.
func (s *LogSink) reopen() error {
	if s.path == "" {
		return nil
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("logto %s: %w", s.path, err)
	}
	s.mu.Lock()
	old := s.f
	s.f = f
	s.written = fileSize(f)
	s.mu.Unlock()
	if old != os.Stderr && old != nil {
		old.Close()
	}
	return nil
}

// Write never fails for the caller: a log that cannot be written (disk
// full) must not stop supervision; the first failure is reported once on
// stderr.
func (s *LogSink) Write(p []byte) (int, error) {
	n := len(p)
	s.mu.Lock()
	if len(s.routes) > 0 {
		if p = s.routeLocked(p); len(p) == 0 {
			s.mu.Unlock()
			return n, nil
		}
	}
	if len(s.loggers) > 0 {
		var err error
		for _, w := range s.loggers {
			if _, e := w.Write(p); e != nil {
				err = e
			}
		}
		s.mu.Unlock()
		if err != nil {
			s.fail.Do(func() { fmt.Fprintf(os.Stderr, "supervise: cannot write to a logger (%v); continuing\n", err) })
		}
		return n, nil
	}
	m, err := s.f.Write(p)
	s.written += int64(m)
	if s.rot.due(s.written) {
		s.rotateLocked()
	}
	s.mu.Unlock()
	if err != nil {
		s.fail.Do(func() { fmt.Fprintf(os.Stderr, "supervise: cannot write the log (%v); continuing without it\n", err) })
	}
	return n, nil
}

// maxLogLine bounds a line held while its process has not ended it yet:
// a longer one is cut there and continues on the next line, so a process
// writing without newlines cannot grow the master's memory.
const maxLogLine = 64 << 10

// lineDrain copies one process's output into the sink, whole lines at a
// time, in the order the process wrote them, until the pipe closes; a
// last unterminated line is ended with a newline.
//
// Under load every request writes a line; reading each one as it comes
// would wake the master thousands of times a second on a machine whose
// cores the workers need, so after a short read it waits a moment and
// takes the lines in batches (the pipe is enlarged to hold them). The
// buffer starts small, as most processes write a few lines, and doubles
// up to logDrainMax while reads fill half of it: a busy worker's lines
// are still taken in large batches, and sixteen idle workers do not hold
// 4 MB of the master's memory.
func lineDrain(s *LogSink, r io.Reader) {
	buf := make([]byte, logDrainMin)
	held := 0 // bytes of an unterminated line at the start of buf
	for {
		free := len(buf) - held
		n, err := r.Read(buf[held:])
		if n > 0 {
			held = s.writeLines(buf[:held+n])
		}
		if err != nil {
			if held > 0 {
				s.writeProcessLines(append(buf[:held:held], '\n'))
			}
			return
		}
		if len(buf) < logDrainMax && (n >= free/2 || held >= len(buf)/2) {
			buf = append(make([]byte, 0, 2*len(buf)), buf[:held]...)[:2*len(buf)]
		}
		if n < free/2 {
			time.Sleep(logBatchDelay)
		}
	}
}

// The bounds of lineDrain's buffer; logDrainMax holds maxLogLine held
// back and more than half of it still free.
const logDrainMin, logDrainMax = 16 << 10, 256 << 10

// writeLines writes the whole lines at the start of b, moves the
// unterminated rest to the start of b and returns its length. A rest
// longer than maxLogLine is written as lines of that length.
func (s *LogSink) writeLines(b []byte) int {
	end := bytes.LastIndexByte(b, '\n') + 1
	if end > 0 {
		s.writeProcessLines(b[:end])
	}
	rest := b[end:]
	for len(rest) > maxLogLine {
		line := append(append(make([]byte, 0, maxLogLine+1), rest[:maxLogLine]...), '\n')
		s.writeProcessLines(line)
		rest = rest[maxLogLine:]
	}
	return copy(b, rest)
}

// writeProcessLines writes whole lines a process wrote, each wrapped in
// a JSON object in JSON mode unless it is one already.
func (s *LogSink) writeProcessLines(b []byte) {
	if bytes.IndexByte(b, ipc.ReqLogMark[0]) >= 0 {
		if b = s.requestLines(b); len(b) == 0 {
			return
		}
	}
	s.mu.Lock()
	on := s.json
	s.mu.Unlock()
	if on {
		b = jsonLines(b, time.Now())
	}
	s.Write(b)
}

// logBatchDelay bounds how late a worker's log line reaches the file.
const logBatchDelay = 20 * time.Millisecond

// enlargePipe asks for a 1 MiB pipe buffer (the default is 64 KiB) so
// batching never blocks a worker's write; failing is harmless.
func enlargePipe(f *os.File) {
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
}

// ProcessPipe makes the pipe one process writes its stdout and stderr
// into and starts draining it; the caller gives w to the process and
// closes it once the process started.
func (s *LogSink) ProcessPipe() (w *os.File, err error) {
	r, w, err := pipe(nil, nil)
	if err != nil {
		return nil, err
	}
	enlargePipe(w)
	s.drain(r)
	return w, nil
}

// Flush waits, at most d, until every process's pipe is drained: once
// the processes are gone, their last lines reach the log before the
// master exits.
func (s *LogSink) Flush(d time.Duration) {
	if s == nil {
		return
	}
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// openPipes is the read ends of the pipes being drained, for an upgrade
// to hand to the next master.
func (s *LogSink) openPipes() []int {
	if s == nil {
		return nil
	}
	s.pipes.Lock()
	defer s.pipes.Unlock()
	var fds []int
	for r := range s.readers {
		fds = append(fds, int(r.Fd()))
	}
	return fds
}

func fileSize(f *os.File) int64 {
	if fi, err := f.Stat(); err == nil {
		return fi.Size()
	}
	return 0
}
