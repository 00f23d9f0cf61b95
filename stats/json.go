// Package stats serves what the workers are doing in uWSGI's stats JSON
// shape (so uwsgitop and existing dashboards work unchanged), plain or
// behind HTTP, and as Prometheus text.
package stats

import "github.com/supervise-go/supervise/ipc"

// The field order of these structs is the key order uWSGI writes; Go's
// encoder keeps declaration order.

// Stats is the whole document.
type Stats struct {
	Version           string           `json:"version"`
	ListenQueue       int              `json:"listen_queue"`
	ListenQueueErrors int              `json:"listen_queue_errors"`
	SignalQueue       int              `json:"signal_queue"`
	Load              int              `json:"load"`
	PID               int              `json:"pid"`
	UID               int              `json:"uid"`
	GID               int              `json:"gid"`
	Cwd               string           `json:"cwd"`
	Locks             []map[string]int `json:"locks"`
	Sockets           []Socket         `json:"sockets"`
	Workers           []Worker         `json:"workers"`
	Spoolers          []Spooler        `json:"spoolers,omitempty"` // stats/services.go
	Mules             []Mule           `json:"mules,omitempty"`
}

// Socket is one listening socket.
type Socket struct {
	Name       string `json:"name"`
	Proto      string `json:"proto"`
	Queue      int    `json:"queue"`
	MaxQueue   int    `json:"max_queue"`
	Shared     int    `json:"shared"`
	CanOffload int    `json:"can_offload"`
}

// Worker is one worker slot.
type Worker struct {
	ID            int    `json:"id"`
	PID           int    `json:"pid"`
	Accepting     int    `json:"accepting"`
	Requests      uint64 `json:"requests"`
	DeltaRequests uint64 `json:"delta_requests"`
	Exceptions    uint64 `json:"exceptions"`
	HarakiriCount int    `json:"harakiri_count"`
	Signals       int    `json:"signals"`
	SignalQueue   int    `json:"signal_queue"`
	Status        string `json:"status"` // idle, busy, cheap, pause
	RSS           uint64 `json:"rss"`
	VSZ           uint64 `json:"vsz"`
	RunningTime   uint64 `json:"running_time"` // microseconds spent in requests
	LastSpawn     int64  `json:"last_spawn"`   // unix seconds
	RespawnCount  int    `json:"respawn_count"`
	Tx            uint64 `json:"tx"`
	AvgRt         uint64 `json:"avg_rt"` // microseconds
	Apps          []App  `json:"apps"`
	Cores         []Core `json:"cores"`

	// Not in uWSGI's document, for /metrics: requests by the class of the
	// status sent (ipc.StatusClassNames) and by duration (one count per
	// bucket of ipc.DurationBoundsUs, then longer ones; not cumulative).
	StatusClasses [ipc.StatusClasses]uint64   `json:"-"`
	Durations     [ipc.DurationBuckets]uint64 `json:"-"`
}

// App is the one WSGI app a worker runs.
type App struct {
	ID          int    `json:"id"`
	Modifier1   int    `json:"modifier1"`
	Mountpoint  string `json:"mountpoint"`
	StartupTime int    `json:"startup_time"`
	Requests    uint64 `json:"requests"`
	Exceptions  uint64 `json:"exceptions"`
	Chdir       string `json:"chdir"`
}

// Core is one thread of a worker.
type Core struct {
	ID                int      `json:"id"`
	Requests          uint64   `json:"requests"`
	StaticRequests    uint64   `json:"static_requests"`
	RoutedRequests    uint64   `json:"routed_requests"`
	OffloadedRequests uint64   `json:"offloaded_requests"`
	WriteErrors       uint64   `json:"write_errors"`
	ReadErrors        uint64   `json:"read_errors"`
	InRequest         int      `json:"in_request"`
	Vars              []string `json:"vars"`
	ReqInfo           ReqInfo  `json:"req_info"`
}

// ReqInfo is empty while idle.
type ReqInfo struct {
	RequestStart int64 `json:"request_start,omitempty"` // unix seconds
}

// uWSGI lists its locks; dashboards index into this list, so keep it.
func defaultLocks() []map[string]int {
	names := []string{"user 0", "signal", "filemon", "timer", "rbtimer", "cron", "rpc", "snmp"}
	out := make([]map[string]int, len(names))
	for i, n := range names {
		out[i] = map[string]int{n: 0}
	}
	return out
}
