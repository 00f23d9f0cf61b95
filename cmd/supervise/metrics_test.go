package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// A live /metrics of a real master, scraped after requests of several
// status classes: the workers' per-core counters reach the status class
// counter and the histogram, and promtool (Debian's prometheus package)
// finds nothing to complain about.
func TestLiveMetricsFromPythonWorkersPassPromtool(t *testing.T) {
	parallel(t)
	promtool := requireTool(t, "promtool", "--version")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, _, sock := startEcho(t, "--stats", addr, "--stats-http")
	m.waitLog(`stats server listening`, 1)
	for _, uri := range []string{"/pid", "/pid", "/pid"} {
		if code, _ := uwsgiGet(t, sock, uri); code != 200 {
			t.Fatalf("%s: %d", uri, code)
		}
	}
	if code, _ := uwsgiGet(t, sock, "/leak?not-a-number"); code != 500 { // the app raises
		t.Fatalf("/leak?not-a-number: %d, want 500", code)
	}
	text := waitMetrics(t, addr, map[string]float64{"2xx": 3, "5xx": 1})
	checkPromtool(t, promtool, text)
}

func TestLiveMetricsFromGoWorkersPassPromtool(t *testing.T) {
	parallel(t)
	promtool := requireTool(t, "promtool", "--version")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, shortTempDir(t), "--http-socket", addr, "--processes", "2", "--stats", statsAddr, "--stats-http",
		"--env", envHelper+"=goworker", "--", os.Args[0])
	m.waitLog(`all workers ready`, 1)
	for _, path := range []string{"/pid", "/empty", "/panic"} {
		get(t, "http://"+addr+path)
	}
	text := waitMetrics(t, statsAddr, map[string]float64{"2xx": 2, "5xx": 1})
	checkPromtool(t, promtool, text)
}

// waitMetrics scrapes addr's /metrics until supervise_requests_total, summed
// over workers, has want per status class (a worker counts a request just
// after its response, so the client may read the reply first), checks the
// histogram counted the same requests, and returns the text.
func waitMetrics(t *testing.T, addr string, want map[string]float64) []byte {
	t.Helper()
	var total float64
	for _, n := range want {
		total += n
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		text, families := scrapeMetrics(t, addr)
		got := map[string]float64{}
		for _, m := range families["supervise_requests_total"].GetMetric() {
			got[metricLabel(m, "code")] += m.GetCounter().GetValue()
		}
		var count uint64
		for _, m := range families["supervise_response_time_seconds"].GetMetric() {
			count += m.GetHistogram().GetSampleCount()
		}
		match := families["supervise_response_time_seconds"].GetType() == dto.MetricType_HISTOGRAM && count == uint64(total)
		for _, code := range []string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"} {
			match = match && got[code] == want[code]
		}
		if match {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests by class %v and histogram count %d, want %v and %v:\n%s", got, count, want, total, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func scrapeMetrics(t *testing.T, addr string) ([]byte, map[string]*dto.MetricFamily) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %s %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v\n%s", err, text)
	}
	return text, families
}

func checkPromtool(t *testing.T, promtool string, text []byte) {
	t.Helper()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s\non:\n%s", err, out, text)
	}
}

func metricLabel(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
