package stats

import (
	"bytes"
	"math"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/supervise-go/supervise/ipc"
)

// What the workers write per core, the master sums per worker at scrape
// time: requests by status class and a cumulative histogram, through
// client_golang's encoder (label values escaped as Prometheus reads them,
// not as Go's %q writes them), and lint-clean as promtool check metrics
// judges.
func TestMetricsSumCoresIntoClassesAndHistogram(t *testing.T) {
	sb, err := ipc.CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	pid := os.Getpid()
	sb.SetWorker(1, ipc.WkPID, uint64(pid))
	// Core 0: three 2xx, one 5xx; core 1: two 4xx, one with no status.
	for core, classes := range [][]uint64{{0, 0, 3, 0, 0, 1}, {1, 0, 0, 0, 2, 0}} {
		for class, n := range classes {
			sb.SetCore(1, core, ipc.CoreStatus+class, n)
		}
	}
	// Durations: 0.5 ms x2 (core 0), 7 ms (core 0), 3 s (core 1), 20 s (core 1), 1 ms (core 1).
	for core, us := range [][]uint64{{500, 500, 7000}, {3_000_000, 20_000_000, 1000}} {
		var total uint64
		for _, u := range us {
			w := ipc.CoreDuration + ipc.DurationBucket(u)
			sb.SetCore(1, core, w, sb.Core(1, core, w)+1)
			total += u
		}
		sb.SetCore(1, core, ipc.CoreRtTotalUs, total)
		sb.SetCore(1, core, ipc.CoreRequests, uint64(len(us)))
	}
	sock := "/run/app \"x\"\nsock\\" // a quote, a newline and a backslash, escaped as Prometheus reads them
	s := &Server{
		Collector: &Collector{Board: sb, Sockets: []SocketInfo{{Name: sock, Proto: "uwsgi",
			Queue: func() (int, int, error) { return 3, 100, nil }}}},
		Snapshot: func() ([]WorkerInfo, error) {
			return []WorkerInfo{{ID: 1, PID: 0, Slot: 0}, {ID: 2, PID: pid, Slot: 1, Ready: true}}, nil
		},
	}
	text, err := s.metrics()
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("not Prometheus text: %v\n%s", err, text)
	}
	byCode := map[string]float64{}
	for _, m := range families["supervise_requests_total"].GetMetric() {
		if label(m, "worker") == "2" {
			byCode[label(m, "code")] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"other": 1, "1xx": 0, "2xx": 3, "3xx": 0, "4xx": 2, "5xx": 1}
	for code, n := range want {
		if byCode[code] != n {
			t.Errorf("supervise_requests_total{worker=\"2\",code=%q} = %v, want %v (all: %v)", code, byCode[code], n, byCode)
		}
	}
	hist := families["supervise_response_time_seconds"]
	if hist.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("supervise_response_time_seconds is a %v, want a histogram", hist.GetType())
	}
	var h *dto.Histogram
	for _, m := range hist.GetMetric() {
		if label(m, "worker") == "2" {
			h = m.GetHistogram()
		}
	}
	if h == nil {
		t.Fatal("no histogram for worker 2")
	}
	cumulative := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		cumulative[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	for le, n := range map[float64]uint64{0.001: 3, 0.0025: 3, 0.005: 3, 0.01: 4, 2.5: 4, 5: 5, 10: 5} {
		if cumulative[le] != n {
			t.Errorf("bucket le=%v has %d, want %d (all: %v)", le, cumulative[le], n, cumulative)
		}
	}
	if h.GetSampleCount() != 6 || h.GetSampleSum() != 23.009 {
		t.Errorf("count %d sum %v, want 6 and 23.009", h.GetSampleCount(), h.GetSampleSum())
	}
	if q := families["supervise_listen_queue"].GetMetric(); len(q) != 1 || label(q[0], "socket") != sock || q[0].GetGauge().GetValue() != 3 {
		t.Errorf("listen queue %v, want socket %q at 3", q, sock)
	}
	problems, err := promlint.New(bytes.NewReader(text)).Lint()
	if err != nil || len(problems) > 0 {
		t.Errorf("promlint: %v %v", err, problems)
	}
	if !strings.HasPrefix(MetricsContentType, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", MetricsContentType)
	}
}

// A socket path need not be UTF-8; a label value must be, so it is
// mended rather than failing the whole scrape.
func TestMetricsMendNonUTF8SocketNames(t *testing.T) {
	text, err := Prometheus(Stats{Sockets: []Socket{{Name: "/run/\xff.sock", Queue: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "supervise_listen_queue{socket=\"/run/\uFFFD.sock\"} 1") {
		t.Fatalf("no mended socket label in:\n%s", text)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// docs/metrics.md lists exactly the metrics the collector describes.
func TestMetricsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(supervise_[a-z_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	ch := make(chan *prometheus.Desc, 100)
	snapshotCollector{}.Describe(ch)
	close(ch)
	described := map[string]bool{}
	for d := range ch {
		name := regexp.MustCompile(`fqName: "([^"]+)"`).FindStringSubmatch(d.String())[1]
		described[name] = true
		if !documented[name] {
			t.Errorf("%s is not in docs/metrics.md's table", name)
		}
	}
	for name := range documented {
		if !described[name] {
			t.Errorf("docs/metrics.md lists %s, which /metrics does not serve", name)
		}
	}
}

// A worker can write any number into its words: buckets summed past 2^64
// saturate instead of wrapping to a smaller cumulative count.
func TestMetricsHistogramSaturates(t *testing.T) {
	w := Worker{ID: 1}
	w.Durations[0], w.Durations[1], w.Durations[2] = math.MaxUint64-1, 5, 7
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(snapshotCollector{snapshot: func() (Stats, error) { return Stats{Workers: []Worker{w}}, nil }})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "supervise_response_time_seconds" {
			continue
		}
		var last uint64
		for _, b := range f.GetMetric()[0].GetHistogram().GetBucket() {
			if n := b.GetCumulativeCount(); n < last {
				t.Fatalf("bucket le=%v has %d, below the previous %d", b.GetUpperBound(), n, last)
			} else {
				last = n
			}
		}
		return
	}
	t.Fatal("no histogram")
}
