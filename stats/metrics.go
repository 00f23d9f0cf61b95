package stats

import (
	"bytes"
	"fmt"
	"strconv"
)

// metrics renders the same snapshot as Prometheus text (format 0.0.4).
func (s *Server) metrics() ([]byte, error) {
	st, err := s.Current()
	if err != nil {
		return nil, err
	}
	return Prometheus(st), nil
}

// Prometheus renders st as Prometheus text exposition.
func Prometheus(st Stats) []byte {
	var b bytes.Buffer
	states := map[string]int{"idle": 0, "busy": 0, "cheap": 0, "pause": 0}
	for _, w := range st.Workers {
		states[w.Status]++
	}
	family(&b, "supervise_workers", "gauge", "Workers by status.")
	for _, state := range []string{"idle", "busy", "cheap", "pause"} {
		fmt.Fprintf(&b, "supervise_workers{status=%q} %d\n", state, states[state])
	}
	perWorker := []struct {
		name, kind, help string
		value            func(Worker) uint64
	}{
		{"supervise_requests_total", "counter", "Requests served by the worker's current process.", func(w Worker) uint64 { return w.Requests }},
		{"supervise_exceptions_total", "counter", "Requests whose app raised.", func(w Worker) uint64 { return w.Exceptions }},
		{"supervise_tx_bytes_total", "counter", "Response bytes sent.", func(w Worker) uint64 { return w.Tx }},
		{"supervise_worker_rss_bytes", "gauge", "Resident memory of the worker.", func(w Worker) uint64 { return w.RSS }},
		{"supervise_worker_vsz_bytes", "gauge", "Virtual memory of the worker.", func(w Worker) uint64 { return w.VSZ }},
		{"supervise_worker_respawns_total", "counter", "Processes started in this worker slot.", func(w Worker) uint64 { return uint64(w.RespawnCount) }},
		{"supervise_harakiri_total", "counter", "Requests cut by harakiri in this slot.", func(w Worker) uint64 { return uint64(w.HarakiriCount) }},
	}
	for _, m := range perWorker {
		family(&b, m.name, m.kind, m.help)
		for _, w := range st.Workers {
			fmt.Fprintf(&b, "%s{worker=\"%d\"} %d\n", m.name, w.ID, m.value(w))
		}
	}
	family(&b, "supervise_response_time_seconds", "summary", "Time from request to the end of the response.")
	for _, w := range st.Workers {
		id := strconv.Itoa(w.ID)
		fmt.Fprintf(&b, "supervise_response_time_seconds_sum{worker=\"%s\"} %g\n", id, float64(w.RunningTime)/1e6)
		fmt.Fprintf(&b, "supervise_response_time_seconds_count{worker=\"%s\"} %d\n", id, w.Requests)
	}
	family(&b, "supervise_listen_queue", "gauge", "Connections waiting in the socket's accept queue.")
	for _, sock := range st.Sockets {
		fmt.Fprintf(&b, "supervise_listen_queue{socket=%q} %d\n", sock.Name, sock.Queue)
	}
	family(&b, "supervise_listen_queue_max", "gauge", "The socket's accept queue limit (listen).")
	for _, sock := range st.Sockets {
		fmt.Fprintf(&b, "supervise_listen_queue_max{socket=%q} %d\n", sock.Name, sock.MaxQueue)
	}
	return b.Bytes()
}

func family(b *bytes.Buffer, name, kind, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
}
