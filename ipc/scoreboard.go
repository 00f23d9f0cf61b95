package ipc

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The scoreboard is shared memory (a memfd) that workers write their live
// counters into and the master only reads, for stats and harakiri. Every
// field is a little-endian uint64 at an 8-byte aligned offset, written with
// one aligned 64-bit store, so a reader never sees half a number. Offsets
// are in words (8 bytes); the Python worker mirrors these constants and a
// test checks they agree.
const (
	ScoreboardMagic   = 0x3145524f43535653 // "SVSCORE1" little-endian
	ScoreboardVersion = 3

	// Header words.
	HdrMagic     = 0
	HdrVersion   = 1
	HdrSlots     = 2 // worker slots
	HdrCores     = 3 // cores (threads) per slot
	HdrSlotBytes = 4
	HdrCoreBytes = 5
	HeaderWords  = 8

	// Worker slot words (then Cores core records). A worker's totals are
	// the sums of its cores: each counter has exactly one writer (the
	// thread or goroutine slot owning the core), so no lock and no atomic
	// read-modify-write is needed on the request path.
	WkPID       = 0
	WkAccepting = 1
	WkID        = 2 // the worker's id (1..processes), written by the Python worker at start
	WkWords     = 8

	// Core words (then VarsBytes of request vars).
	CoreRequests    = 0
	CoreInRequest   = 1 // 1 while a request runs
	CoreStartNs     = 2 // CLOCK_MONOTONIC ns when it started
	CoreReadErrors  = 3
	CoreWriteErrors = 4
	CoreExceptions  = 5
	CoreVarsLen     = 6 // bytes used in the vars area
	CoreVarsFormat  = 7 // VarsUwsgi or VarsHTTP
	CoreTx          = 8 // response bytes sent
	CoreRtTotalUs   = 9 // sum of response times, microseconds
	// Requests by the class of the status sent: CoreStatus + StatusClass(code).
	CoreStatus = 10
	// Requests by duration: CoreDuration + DurationBucket(us), one word per
	// bucket of DurationBoundsUs (not cumulative) and one for longer ones.
	CoreDuration     = CoreStatus + StatusClasses
	CoreWords        = 32 // 30 and 31 spare; 256 bytes keeps cores 64-byte aligned
	VarsBytes        = 1024
	VarsUwsgi        = 1 // the request's uwsgi vars block, as received
	VarsHTTP         = 2 // the request line and headers, as received
	EnvScoreboardFD  = "SUPERVISE_SCOREBOARD_FD"
	EnvScoreboardIdx = "SUPERVISE_SCOREBOARD_SLOT" // 0-based slot this worker writes
)

// Scoreboard is a mapped scoreboard.
type Scoreboard struct {
	File  *os.File
	mem   []byte
	slots int
	cores int
}

func slotBytes(cores int) int { return WkWords*8 + cores*(CoreWords*8+VarsBytes) }

// CreateScoreboard makes a zeroed scoreboard for slots workers of cores
// threads each.
func CreateScoreboard(slots, cores int) (*Scoreboard, error) {
	fd, err := unix.MemfdCreate("supervise-scoreboard", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("scoreboard: memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "scoreboard")
	size := HeaderWords*8 + slots*slotBytes(cores)
	if err := f.Truncate(int64(size)); err != nil {
		f.Close()
		return nil, fmt.Errorf("scoreboard: %w", err)
	}
	s, err := mapScoreboard(f, size)
	if err != nil {
		return nil, err
	}
	s.slots, s.cores = slots, cores
	s.RepairHeader()
	return s, nil
}

// OpenScoreboard maps a scoreboard a worker inherited.
func OpenScoreboard(f *os.File) (*Scoreboard, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("scoreboard: %w", err)
	}
	s, err := mapScoreboard(f, int(fi.Size()))
	if err != nil {
		return nil, err
	}
	if len(s.mem) < HeaderWords*8 || s.load(HdrMagic*8) != ScoreboardMagic || s.load(HdrVersion*8) != ScoreboardVersion {
		s.Close()
		return nil, fmt.Errorf("scoreboard: not a version %d scoreboard", ScoreboardVersion)
	}
	// The header is as untrusted as the rest (any worker can write it):
	// dimensions must fit the mapping before anything is read through them.
	slots, cores := s.load(HdrSlots*8), s.load(HdrCores*8)
	if cores < 1 || cores > maxCores || slots > uint64((len(s.mem)-HeaderWords*8)/slotBytes(int(cores))) ||
		s.load(HdrSlotBytes*8) != uint64(slotBytes(int(cores))) || s.load(HdrCoreBytes*8) != CoreWords*8+VarsBytes {
		s.Close()
		return nil, fmt.Errorf("scoreboard: corrupt header (%d slots of %d cores in %d bytes)", slots, cores, len(s.mem))
	}
	s.slots, s.cores = int(slots), int(cores)
	return s, nil
}

// maxCores bounds the cores per slot a header may claim (threads).
const maxCores = 1 << 16

func mapScoreboard(f *os.File, size int) (*Scoreboard, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("scoreboard: mmap: %w", err)
	}
	return &Scoreboard{File: f, mem: mem}, nil
}

// Close unmaps and closes it.
func (s *Scoreboard) Close() error {
	err := unix.Munmap(s.mem)
	return errors.Join(err, s.File.Close())
}

// Slots and Cores are its dimensions.
func (s *Scoreboard) Slots() int { return s.slots }
func (s *Scoreboard) Cores() int { return s.cores }

func (s *Scoreboard) load(off int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&s.mem[off])))
}

func (s *Scoreboard) store(off int, v uint64) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&s.mem[off])), v)
}

// in says whether slot and core exist: readers return zero for anything
// outside the mapping rather than trust an index.
func (s *Scoreboard) in(slot, core int) bool {
	return slot >= 0 && slot < s.slots && core >= 0 && core < s.cores
}

func (s *Scoreboard) slotOff(slot int) int { return HeaderWords*8 + slot*slotBytes(s.cores) }
func (s *Scoreboard) coreOff(slot, core int) int {
	return s.slotOff(slot) + WkWords*8 + core*(CoreWords*8+VarsBytes)
}

// Worker reads word w of a worker slot.
func (s *Scoreboard) Worker(slot, w int) uint64 {
	if !s.in(slot, 0) || w < 0 || w >= WkWords {
		return 0
	}
	return s.load(s.slotOff(slot) + w*8)
}

// SetWorker writes word w of a worker slot (the worker's own slot only).
func (s *Scoreboard) SetWorker(slot, w int, v uint64) {
	if s.in(slot, 0) && w >= 0 && w < WkWords {
		s.store(s.slotOff(slot)+w*8, v)
	}
}

// Core reads word w of a core.
func (s *Scoreboard) Core(slot, core, w int) uint64 {
	if !s.in(slot, core) || w < 0 || w >= CoreWords {
		return 0
	}
	return s.load(s.coreOff(slot, core) + w*8)
}

// SetCore writes word w of a core (the owning thread only).
func (s *Scoreboard) SetCore(slot, core, w int, v uint64) {
	if s.in(slot, core) && w >= 0 && w < CoreWords {
		s.store(s.coreOff(slot, core)+w*8, v)
	}
}

// AddCore adds d to word w of a core (the owning thread only): a load and
// one aligned store, the offset computed once. Not an atomic
// read-modify-write: each word has one writer.
func (s *Scoreboard) AddCore(slot, core, w int, d uint64) {
	if s.in(slot, core) && w >= 0 && w < CoreWords {
		off := s.coreOff(slot, core) + w*8
		s.store(off, s.load(off)+d)
	}
}

// Vars copies a core's request vars area (meaningful while in_request).
// The length is the worker's word: anything above VarsBytes is clamped.
func (s *Scoreboard) Vars(slot, core int) (format uint64, raw []byte) {
	if !s.in(slot, core) {
		return 0, nil
	}
	n := int(min(s.Core(slot, core, CoreVarsLen), VarsBytes))
	off := s.coreOff(slot, core) + CoreWords*8
	return s.Core(slot, core, CoreVarsFormat), append([]byte(nil), s.mem[off:off+n]...)
}

// SetVars stores a core's request vars (truncated to VarsBytes).
func (s *Scoreboard) SetVars(slot, core int, format uint64, raw []byte) {
	if !s.in(slot, core) {
		return
	}
	off := s.coreOff(slot, core) + CoreWords*8
	n := copy(s.mem[off:off+VarsBytes], raw)
	s.SetCore(slot, core, CoreVarsFormat, format)
	s.SetCore(slot, core, CoreVarsLen, uint64(n))
}

// ClearSlot zeroes a worker slot before it is given to a new worker.
func (s *Scoreboard) ClearSlot(slot int) {
	if !s.in(slot, 0) {
		return
	}
	off := s.slotOff(slot)
	clear(s.mem[off : off+slotBytes(s.cores)])
}
