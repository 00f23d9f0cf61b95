package master

import "time"

// workerState is where a worker is in its life.
type workerState int

const (
	// Starting: forked, app loading, not yet READY=1.
	Starting workerState = iota
	// Ready: accepting requests.
	Ready
	// Stopping: sent SIGTERM; killed at StopDeadline.
	Stopping
)

func (s workerState) String() string {
	return [...]string{"starting", "ready", "stopping"}[s]
}

// worker is one worker process. Only the loop's goroutine touches it.
type worker struct {
	ID           int // slot 1..processes, stable across respawns
	PID          int
	Generation   int
	State        workerState
	Started      time.Time
	ReadyAt      time.Time
	StopDeadline time.Time
	Killed       bool   // SIGKILL sent
	BoardSlot    int    // scoreboard slot, -1 for none
	Harakiri     bool   // killed for a request that outran harakiri: respawn it
	Retiring     bool   // recycled (max-requests, reload-on-rss): stopped once its replacement is ready
	StopLimit    string // the option whose deadline StopDeadline is, for the log
	RSSChecked   time.Time
	NoApp        bool      // READY=1 with NOAPP=1: it serves, but loaded no app
	Status       string    // its last STATUS= line, when it said NOAPP=1
	Tampered     bool      // its scoreboard slot held garbage: killed, never trusted again
	HandOffBy    time.Time // ready: what it replaces stops once it served a request, or then (handoff.go)
}

// slot is one place in the pool: the worker currently filling it and the
// respawn bookkeeping that outlives each worker.
type slot struct {
	ID        int
	Current   *worker   // nil while empty
	NextStart time.Time // when empty: not before this (backoff)
	Failures  int       // consecutive failed starts or early deaths
	Respawns  int       // workers started in this slot, the first included
	LastSpawn time.Time
	Harakiris int  // workers of this slot killed by harakiri
	Cheap     bool // cheaper: the slot is left empty while the pool is idle
}
