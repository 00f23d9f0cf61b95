package ipc

import (
	"time"

	"golang.org/x/sys/unix"
)

// MonotonicClock reads CLOCK_MONOTONIC, the clock of the scoreboard's
// times (a request's start, a user harakiri's deadline), without a system
// call per reading: x/sys/unix.ClockGettime is a real syscall, while Go's
// own monotonic clock is CLOCK_MONOTONIC read through the vDSO. So the
// clock is read once by syscall, and later readings add Go's elapsed
// time to it. (The master checks every slot's times at each step of its
// loop, and a Go worker stamps every request.)
type MonotonicClock struct {
	base   time.Time
	baseNs uint64
}

// NewMonotonicClock reads CLOCK_MONOTONIC once.
func NewMonotonicClock() MonotonicClock {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return MonotonicClock{base: time.Now(), baseNs: uint64(ts.Nano())}
}

// Now is CLOCK_MONOTONIC in nanoseconds.
func (c MonotonicClock) Now() uint64 { return c.baseNs + uint64(time.Since(c.base)) }
