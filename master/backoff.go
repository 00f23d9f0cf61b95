package master

import "time"

// A worker that dies before this age (or before it said READY) counts as a
// failed start, unless it said READY and then served a request or was
// killed by SIGKILL (from outside: OOM killer, kill -9); consecutive
// failures back off exponentially so a broken app never spins the CPU.
// One that lived longer, served, or was killed, is respawned at once.
const (
	healthyAge   = 2 * time.Second
	backoffFirst = 100 * time.Millisecond
	backoffMax   = 10 * time.Second
)

// backoffDelay is the wait before the next start after n consecutive
// failures: 0 for the first (a one-off crash is respawned at once), then
// 100 ms doubling up to 10 s.
func backoffDelay(failures int) time.Duration {
	if failures <= 1 {
		return 0
	}
	d := backoffFirst
	for i := 2; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}
