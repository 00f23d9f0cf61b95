package ipc

import (
	"fmt"
	"time"
)

// The master reads memory every worker can write, and workers may run as
// another user (uid/gid) or run an app that scribbles over it. The reads
// above never index with a stored value; the checks here tell the master
// when a slot or the header holds something no honest worker writes, so it
// can replace the worker instead of trusting it.

// startSlack is how far in the future a request start may lie: the master
// reads its clock before the worker's store can land.
const startSlack = time.Second

// CheckHeader reports a header that no longer describes this mapping (a
// worker overwrote it). Only the master's own dimensions are used to read,
// so a bad header cannot mislead the master, but new workers would refuse
// the scoreboard: RepairHeader rewrites it.
func (s *Scoreboard) CheckHeader() error {
	want := s.header()
	for w, v := range want {
		if got := s.load(w * 8); got != v {
			return fmt.Errorf("scoreboard header word %d is %#x, want %#x", w, got, v)
		}
	}
	return nil
}

// RepairHeader writes the header for this mapping's dimensions.
func (s *Scoreboard) RepairHeader() {
	for w, v := range s.header() {
		s.store(w*8, v)
	}
}

func (s *Scoreboard) header() map[int]uint64 {
	return map[int]uint64{HdrMagic: ScoreboardMagic, HdrVersion: ScoreboardVersion,
		HdrSlots: uint64(s.slots), HdrCores: uint64(s.cores), HdrSlotBytes: uint64(slotBytes(s.cores)),
		HdrCoreBytes: CoreWords*8 + VarsBytes}
}

// CheckSlot reports the first field of slot that its worker (pid) cannot
// have written honestly: another pid, a flag other than 0 or 1, a vars
// length beyond the vars area, an unknown vars format, or a request that
// starts in the future (nowNs is CLOCK_MONOTONIC). Counters (requests,
// errors, bytes, times, the status class and duration bucket words) are
// not checked: any value is a number, and readers only add them. nil means
// the slot is plausible.
func (s *Scoreboard) CheckSlot(slot, pid int, nowNs uint64) error {
	if !s.in(slot, 0) {
		return fmt.Errorf("slot %d is outside the scoreboard (%d slots)", slot, s.slots)
	}
	if p := s.Worker(slot, WkPID); p != 0 && p != uint64(pid) {
		return fmt.Errorf("pid is %d, not the worker's %d", p, pid)
	}
	if a := s.Worker(slot, WkAccepting); a > 1 {
		return fmt.Errorf("accepting flag is %d, not 0 or 1", a)
	}
	for c := 0; c < s.cores; c++ {
		in := s.Core(slot, c, CoreInRequest)
		if in > 1 {
			return fmt.Errorf("core %d: in-request flag is %d, not 0 or 1", c, in)
		}
		if n := s.Core(slot, c, CoreVarsLen); n > VarsBytes {
			return fmt.Errorf("core %d: vars length is %d, more than the %d-byte area", c, n, VarsBytes)
		}
		if f := s.Core(slot, c, CoreVarsFormat); f != 0 && f != VarsUwsgi && f != VarsHTTP {
			return fmt.Errorf("core %d: vars format is %d, not %d or %d", c, f, VarsUwsgi, VarsHTTP)
		}
		if start := s.Core(slot, c, CoreStartNs); in == 1 && start > nowNs+uint64(startSlack) {
			return fmt.Errorf("core %d: request start %d ns is after now (%d ns)", c, start, nowNs)
		}
	}
	return nil
}
