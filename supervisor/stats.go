package supervisor

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/socket"
	"github.com/supervise-go/supervise/stats"
)

// boardCapacity leaves room for a full second generation during a reload
// and for growing the pool with SIGTTIN.
func boardCapacity(processes int) int { return 2*processes + 8 }

// newStatsServer builds the stats server. Its snapshots come from the
// master's loop; everything slow (rss, socket queues, JSON) happens on the
// client's goroutine.
func newStatsServer(cfg *config.Config, listeners []*socket.Listener, board *ipc.Scoreboard, snapshot func() ([]stats.WorkerInfo, error), log hclog.Logger) *stats.Server {
	return &stats.Server{
		Log:       log.Named("stats"),
		Collector: &stats.Collector{Board: board, Sockets: socketInfos(listeners)},
		HTTP:      cfg.StatsHTTP,
		Minified:  cfg.StatsMinified,
		Snapshot:  snapshot,
	}
}

func socketInfos(ls []*socket.Listener) []stats.SocketInfo {
	var out []stats.SocketInfo
	for _, l := range ls {
		if config.IsRouter(l.Proto) {
			continue // the front end's: stats list the workers' sockets, as uWSGI's do
		}
		out = append(out, stats.SocketInfo{Name: l.Name, Proto: l.Proto, Queue: l.Queue})
	}
	return out
}

// loopSnapshot asks the loop for a snapshot through calls, so no lock ever
// guards worker state.
func loopSnapshot(m *master.Master, calls chan<- func()) func() ([]stats.WorkerInfo, error) {
	return func() ([]stats.WorkerInfo, error) {
		reply := make(chan []stats.WorkerInfo, 1)
		select {
		case calls <- func() { reply <- m.Snapshot() }:
			return <-reply, nil
		case <-time.After(2 * time.Second):
			return nil, errors.New("the master did not answer (shutting down?)")
		}
	}
}

// logStats writes a one-screen summary (SIGUSR1): a totals line, then a
// line per worker.
func logStats(c *stats.Collector, ws []stats.WorkerInfo, log hclog.Logger) {
	st := c.Collect(ws)
	var reqs uint64
	for _, w := range st.Workers {
		reqs += w.Requests
	}
	log.Info("stats", "workers", len(st.Workers), "requests", reqs, "listen_queue", st.ListenQueue)
	for _, w := range st.Workers {
		log.Info("stats", "worker", w.ID, "pid", w.PID, "status", w.Status, "requests", w.Requests,
			"exceptions", w.Exceptions, "avg_ms", fmt.Sprintf("%.2f", float64(w.AvgRt)/1000),
			"rss_mb", w.RSS>>20, "respawns", w.RespawnCount)
	}
}
