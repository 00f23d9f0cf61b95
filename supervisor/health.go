package supervisor

import (
	"fmt"
	"time"

	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/stats"
)

// liveTimeout bounds how long /healthz waits for the loop: Kubernetes'
// probe timeout is 1 s unless set, and a loop that cannot run a closure
// in this long is wedged.
const liveTimeout = 800 * time.Millisecond

// loopHealth answers the health probes through the loop's calls channel,
// so /healthz proves the loop runs and /readyz reads its state without a
// lock. A loop that does not take the call, or does not finish it, within
// timeout fails both.
func loopHealth(m *master.Master, calls chan<- func(), timeout time.Duration) *stats.Health {
	ask := func() (stats.Readiness, error) {
		reply := make(chan stats.Readiness, 1) // a late answer must not block the loop
		t := time.NewTimer(timeout)
		defer t.Stop()
		wedged := fmt.Errorf("the master's loop did not answer within %v", timeout)
		select {
		case calls <- func() { reply <- m.Readiness() }:
		case <-t.C:
			return stats.Readiness{}, wedged
		}
		select {
		case r := <-reply:
			return r, nil
		case <-t.C:
			return stats.Readiness{}, wedged
		}
	}
	return &stats.Health{
		Live: func() error { _, err := ask(); return err },
		Ready: func() stats.Readiness {
			r, err := ask()
			if err != nil {
				return stats.Readiness{Reason: err.Error()}
			}
			return r
		},
	}
}
