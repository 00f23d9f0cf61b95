package stats

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/supervise-go/supervise/ipc"
)

// Prometheus exposition through client_golang: one registry holding a
// collector that takes a snapshot at scrape time (the same scoreboard read
// the JSON document makes), so the workers do nothing per request beyond
// their scoreboard stores and an idle master does nothing at all.
//
// Labels stay bounded: worker is the worker id (1..processes, stable
// across respawns, never a pid), code one of ipc.StatusClassNames, socket
// one of the configured sockets. Counters are per worker process: they
// restart at 0 when a worker is replaced, which Prometheus's rate() reads
// as the counter reset it is.

// MetricsContentType is the content type of Metrics' output.
var MetricsContentType = string(metricsFormat)

var metricsFormat = expfmt.NewFormat(expfmt.TypeTextPlain)

var (
	descWorkers = prometheus.NewDesc("supervise_workers", "Workers by status.", []string{"status"}, nil)
	descByCode  = prometheus.NewDesc("supervise_requests_total",
		"Requests served by the worker's current process, by the class of the status sent (other: none was sent).",
		[]string{"worker", "code"}, nil)
	descDuration = prometheus.NewDesc("supervise_response_time_seconds",
		"Time from request to the end of the response.", []string{"worker"}, nil)
	descQueue    = prometheus.NewDesc("supervise_listen_queue", "Connections waiting in the socket's accept queue.", []string{"socket"}, nil)
	descQueueMax = prometheus.NewDesc("supervise_listen_queue_max", "The socket's accept queue limit (listen).", []string{"socket"}, nil)

	perWorker = []struct {
		desc  *prometheus.Desc
		kind  prometheus.ValueType
		value func(Worker) uint64
	}{
		{prometheus.NewDesc("supervise_exceptions_total", "Requests whose app raised.", []string{"worker"}, nil),
			prometheus.CounterValue, func(w Worker) uint64 { return w.Exceptions }},
		{prometheus.NewDesc("supervise_tx_bytes_total", "Response bytes sent.", []string{"worker"}, nil),
			prometheus.CounterValue, func(w Worker) uint64 { return w.Tx }},
		{prometheus.NewDesc("supervise_worker_rss_bytes", "Resident memory of the worker.", []string{"worker"}, nil),
			prometheus.GaugeValue, func(w Worker) uint64 { return w.RSS }},
		{prometheus.NewDesc("supervise_worker_vsz_bytes", "Virtual memory of the worker.", []string{"worker"}, nil),
			prometheus.GaugeValue, func(w Worker) uint64 { return w.VSZ }},
		{prometheus.NewDesc("supervise_worker_respawns_total", "Processes started in this worker slot.", []string{"worker"}, nil),
			prometheus.CounterValue, func(w Worker) uint64 { return uint64(w.RespawnCount) }},
		{prometheus.NewDesc("supervise_harakiri_total", "Requests cut by harakiri in this slot.", []string{"worker"}, nil),
			prometheus.CounterValue, func(w Worker) uint64 { return uint64(w.HarakiriCount) }},
	}

	workerStates = []string{"idle", "busy", "cheap", "pause"}
)

// boundsSeconds are ipc.DurationBoundsUs as the histogram's le values.
var boundsSeconds = func() []float64 {
	out := make([]float64, len(ipc.DurationBoundsUs))
	for i, us := range ipc.DurationBoundsUs {
		out[i] = float64(us) / 1e6
	}
	return out
}()

// snapshotCollector turns one Stats snapshot per scrape into metrics.
type snapshotCollector struct {
	snapshot func() (Stats, error)
}

func (c snapshotCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descWorkers, descByCode, descDuration, descQueue, descQueueMax} {
		ch <- d
	}
	for _, m := range perWorker {
		ch <- m.desc
	}
}

func (c snapshotCollector) Collect(ch chan<- prometheus.Metric) {
	st, err := c.snapshot()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descWorkers, err)
		return
	}
	states := map[string]int{}
	for _, w := range st.Workers {
		states[w.Status]++
	}
	for _, state := range workerStates {
		ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(states[state]), state)
	}
	for _, w := range st.Workers {
		id := strconv.Itoa(w.ID)
		for class, n := range w.StatusClasses {
			ch <- prometheus.MustNewConstMetric(descByCode, prometheus.CounterValue, float64(n), id, ipc.StatusClassNames[class])
		}
		for _, m := range perWorker {
			ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(m.value(w)), id)
		}
		// The workers count each request in one bucket; le is cumulative.
		// The words are untrusted: the sum saturates rather than wraps, so
		// the buckets never decrease.
		buckets := make(map[float64]uint64, len(boundsSeconds))
		var count uint64
		for i, n := range w.Durations {
			if count += n; count < n {
				count = math.MaxUint64
			}
			if i < len(boundsSeconds) {
				buckets[boundsSeconds[i]] = count
			}
		}
		ch <- prometheus.MustNewConstHistogram(descDuration, count, float64(w.RunningTime)/1e6, buckets, id)
	}
	for _, sock := range st.Sockets {
		name := strings.ToValidUTF8(sock.Name, "\uFFFD") // a label value must be UTF-8; a path need not be
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(sock.Queue), name)
		ch <- prometheus.MustNewConstMetric(descQueueMax, prometheus.GaugeValue, float64(sock.MaxQueue), name)
	}
}

// metricsRegistry is the registry /metrics gathers from, made on first use.
func (s *Server) metricsRegistry() *prometheus.Registry {
	s.regOnce.Do(func() {
		s.reg = prometheus.NewRegistry()
		s.reg.MustRegister(snapshotCollector{snapshot: s.Current})
	})
	return s.reg
}

// metrics renders a fresh snapshot as Prometheus text (format 0.0.4).
func (s *Server) metrics() ([]byte, error) {
	return gatherText(s.metricsRegistry())
}

// Prometheus renders st as Prometheus text exposition.
func Prometheus(st Stats) ([]byte, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(snapshotCollector{snapshot: func() (Stats, error) { return st, nil }}); err != nil {
		return nil, err
	}
	return gatherText(reg)
}

func gatherText(g prometheus.Gatherer) ([]byte, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, metricsFormat)
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return b.Bytes(), nil
}

// regState is the Server's lazily made registry.
type regState struct {
	regOnce sync.Once
	reg     *prometheus.Registry
}
