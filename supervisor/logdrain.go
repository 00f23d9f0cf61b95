package supervisor

import (
	"errors"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// The processes' pipes are drained by one goroutine for all of them, not
// one each. Under load every worker writes a batch of request lines every
// few milliseconds; a goroutine per pipe woke up (a timer, a read, a write
// to the log) once per pipe per logBatchDelay, each wake-up a thread
// switch in the master, and on a virtual machine a thread switch costs
// more than the request lines themselves: 4 busy workers cost the master
// ~5 us of CPU per request (uWSGI's master: 0.2, its workers write the
// log themselves). One poll over every pipe per collectDelay, a read of
// each pipe with lines waiting and one write of all their lines costs one
// wake-up per delay however many workers there are. Each wake-up of an
// idle Go process also sets the runtime's sysmon thread polling every
// 20 us for a millisecond or more (a dozen more thread switches), so the
// delay is what the cost scales with: lines of a busy server reach the
// file at most collectDelay late; a line after a quiet spell at once.
type pipeCollector struct {
	added   []*os.File // pipes drain handed over, taken on the next round
	running bool       // the collector goroutine is running
	wake    int        // an eventfd that ends the collector's poll for added pipes; -1 when not running
	waits   int        // rounds that waited for a pipe to have something (tests watch it)
}

// collectDelay is how long the collector waits after a round that read
// lines: at most this late does a busy worker's line reach the file.
// 20 ms (lineDrain's logBatchDelay) cost the master 2-3 times the CPU per
// request of 100 ms on the seed app under load.
const collectDelay = 100 * time.Millisecond

// drainPipe is one process's pipe in the collector: lineDrain's buffer and
// held partial line.
type drainPipe struct {
	f    *os.File
	fd   int
	buf  []byte
	held int
}

// drain starts copying a pipe's lines into the sink until it closes.
func (s *LogSink) drain(r *os.File) { s.drainAll([]*os.File{r}) }

// drainAll hands pipes to the collector, all taken in the same round.
func (s *LogSink) drainAll(rs []*os.File) {
	if len(rs) == 0 {
		return
	}
	s.pipes.Lock()
	defer s.pipes.Unlock()
	for _, r := range rs {
		s.readers[r] = true
		s.active.Add(1)
	}
	s.coll.added = append(s.coll.added, rs...)
	if s.coll.running {
		unix.Write(s.coll.wake, []byte{1, 0, 0, 0, 0, 0, 0, 0})
		return
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		wake = -1 // new pipes are then taken after the current poll returns: on a line, or at once when idle (below)
	}
	s.coll.running, s.coll.wake = true, wake
	go s.collect(wake)
}

// collect drains every process pipe until the last one closes. A round
// polls the pipes, reads each one with lines waiting (one read; a pipe
// read returns what is there), and writes all whole lines in one Write.
// After a round that read lines it waits collectDelay, then polls
// without blocking; after a round that read nothing it polls until a
// pipe has something (or closes, or a pipe is added). A read that
// filled its buffer skips the wait: more is waiting.
func (s *LogSink) collect(wake int) {
	var pipes []*drainPipe
	var pfds []unix.PollFd
	var batch []byte
	timeout := 0
	for {
		s.pipes.Lock()
		added := s.coll.added
		s.coll.added = nil
		if len(added) == 0 && len(pipes) == 0 {
			s.coll.running, s.coll.wake = false, -1
			s.pipes.Unlock()
			if wake >= 0 {
				unix.Close(wake)
			}
			return
		}
		if timeout < 0 {
			s.coll.waits++
		}
		s.pipes.Unlock()
		for _, f := range added {
			pipes = append(pipes, &drainPipe{f: f, fd: int(f.Fd()), buf: make([]byte, logDrainMin)})
		}
		pfds = pfds[:0]
		if wake >= 0 {
			pfds = append(pfds, unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
		} else if timeout < 0 {
			timeout = 100 // no eventfd: look for added pipes now and then
		}
		for _, p := range pipes {
			pfds = append(pfds, unix.PollFd{Fd: int32(p.fd), Events: unix.POLLIN})
		}
		if _, err := unix.Poll(pfds, timeout); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			time.Sleep(collectDelay) // cannot happen with valid fds; do not spin
		}
		ready := pfds
		if wake >= 0 {
			if ready[0].Revents != 0 {
				var b [8]byte
				unix.Read(wake, b[:])
			}
			ready = ready[1:]
		}
		read, full := false, false
		batch = batch[:0]
		open := pipes[:0]
		var closed []*drainPipe
		for i, p := range pipes {
			if ready[i].Revents == 0 {
				open = append(open, p)
				continue
			}
			free := len(p.buf) - p.held
			n, err := unix.Read(p.fd, p.buf[p.held:])
			if n > 0 {
				read = true
				batch = p.take(batch, n)
				if n == free {
					full = true
				}
			}
			if n == 0 || (err != nil && err != unix.EINTR && err != unix.EAGAIN) {
				if p.held > 0 {
					batch = append(append(batch, p.buf[:p.held]...), '\n')
				}
				closed = append(closed, p)
				continue
			}
			open = append(open, p)
		}
		pipes = open
		if len(batch) > 0 {
			s.writeProcessLines(batch)
		}
		for _, p := range closed {
			s.pipes.Lock()
			delete(s.readers, p.f)
			s.pipes.Unlock()
			p.f.Close()
			s.active.Done()
		}
		switch {
		case full:
			timeout = 0
		case read:
			time.Sleep(collectDelay)
			timeout = 0
		default:
			timeout = -1
		}
	}
}

// take appends the whole lines of the n bytes just read (after the held
// ones) to batch, as writeLines writes them (a line longer than
// maxLogLine is cut there), keeps the unterminated rest and grows the
// buffer as lineDrain does.
func (p *drainPipe) take(batch []byte, n int) []byte {
	b := p.buf[:p.held+n]
	end := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			end = i + 1
			break
		}
	}
	batch = append(batch, b[:end]...)
	rest := b[end:]
	for len(rest) > maxLogLine {
		batch = append(append(batch, rest[:maxLogLine]...), '\n')
		rest = rest[maxLogLine:]
	}
	free := len(p.buf) - p.held
	p.held = copy(p.buf, rest)
	if len(p.buf) < logDrainMax && (n >= free/2 || p.held >= len(p.buf)/2) {
		p.buf = append(make([]byte, 0, 2*len(p.buf)), p.buf[:p.held]...)[:2*len(p.buf)]
	}
	return batch
}
