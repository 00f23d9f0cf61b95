package stats

// Spooler is one spooler process, as uWSGI's "spoolers" entries: its
// directory, pid (0 while it waits to be restarted), the tasks it ran,
// how many times it was started, and 1 while a task runs.
type Spooler struct {
	Dir      string `json:"dir"`
	PID      int    `json:"pid"`
	Tasks    uint64 `json:"tasks"`
	Respawns int64  `json:"respawns"`
	Running  uint64 `json:"running"`
}

// Mule is one mule (uWSGI 2.0's stats have no mules; supervise's own
// key, shaped like a worker's identity fields).
type Mule struct {
	ID           int    `json:"id"`
	PID          int    `json:"pid"`
	Messages     uint64 `json:"messages"`
	RespawnCount int64  `json:"respawn_count"`
	Running      uint64 `json:"running"`
}
