package ipc

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The clock agrees with CLOCK_MONOTONIC read by syscall (which the Python
// workers' time.monotonic_ns() reads too), long after its base reading.
func TestMonotonicClockIsClockMonotonic(t *testing.T) {
	c := NewMonotonicClock()
	syscallNow := func() uint64 {
		var ts unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
		return uint64(ts.Nano())
	}
	time.Sleep(30 * time.Millisecond) // not a wait: a clock stuck at its base would now be 30 ms behind
	for i := 0; i < 5; i++ {
		before := syscallNow()
		now := c.Now()
		after := syscallNow()
		if now+uint64(time.Millisecond) < before || now > after+uint64(time.Millisecond) {
			t.Fatalf("Now() = %d outside [%d, %d]", now, before, after)
		}
	}
}
