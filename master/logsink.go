package master

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// LogSink is where the master and, through a pipe the master drains, every
// worker write their log. Owning the only descriptor of the log file lets
// the master reopen it (FIFO 'l', after logrotate moved it) for everyone.
type LogSink struct {
	mu   sync.Mutex
	path string // "" for stderr
	f    *os.File
	fail sync.Once
}

// OpenLogSink appends to path, or writes to stderr when path is "".
func OpenLogSink(path string) (*LogSink, error) {
	s := &LogSink{path: path, f: os.Stderr}
	if path != "" {
		if err := s.Reopen(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Reopen opens the log file again by name.
func (s *LogSink) Reopen() error {
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
	s.mu.Lock()
	_, err := s.f.Write(p)
	s.mu.Unlock()
	if err != nil {
		s.fail.Do(func() { fmt.Fprintf(os.Stderr, "supervise: cannot write the log (%v); continuing without it\n", err) })
	}
	return len(p), nil
}

// drainInto copies the workers' log pipe into the sink until it closes.
// Under load every request writes a line; reading each one as it comes
// would wake the master thousands of times a second on a machine whose
// cores the workers need, so after a short read it waits a moment and
// takes the lines in batches (the pipe is enlarged to hold them).
func drainInto(s *LogSink, r io.Reader) {
	buf := make([]byte, 256<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.Write(buf[:n])
		}
		if err != nil {
			return
		}
		if n < len(buf)/2 {
			time.Sleep(logBatchDelay)
		}
	}
}

// logBatchDelay bounds how late a worker's log line reaches the file.
const logBatchDelay = 20 * time.Millisecond

// enlargePipe asks for a 1 MiB pipe buffer (the default is 64 KiB) so
// batching never blocks a worker's write; failing is harmless.
func enlargePipe(f *os.File) {
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, 1<<20)
}
