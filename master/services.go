package master

// DaemonPIDs is every daemon the plan keeps (not stopping) by name, with
// its pid (0 while it waits to be restarted). The spooler's and the
// mules' rows in stats, and the uwsgi signal targets, come from it; call
// it on the loop's goroutine.
func (m *Master) DaemonPIDs() map[string]int {
	out := make(map[string]int, len(m.daemons))
	for _, d := range m.daemons {
		if !d.stopping {
			out[d.Name] = d.pid
		}
	}
	return out
}
