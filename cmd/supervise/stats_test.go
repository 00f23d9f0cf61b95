package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/supervise-go/supervise/stats"
	"github.com/supervise-go/supervise/uwsgi"
)

// uwsgiGet sends one request over the uwsgi protocol, as nginx would.
func uwsgiGet(t *testing.T, sock, uri string) (int, string) {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path, query, _ := strings.Cut(uri, "?")
	var vars []uwsgi.Var
	for _, kv := range [][2]string{{"REQUEST_METHOD", "GET"}, {"REQUEST_URI", uri}, {"PATH_INFO", path},
		{"QUERY_STRING", query}, {"SERVER_PROTOCOL", "HTTP/1.1"}, {"SERVER_NAME", "t"},
		{"SERVER_PORT", "80"}, {"REMOTE_ADDR", "127.0.0.1"}, {"HTTP_HOST", "t"}} {
		vars = append(vars, uwsgi.Var{Key: kv[0], Value: kv[1]})
	}
	pkt, _ := uwsgi.AppendPacket(nil, 0, 0, vars)
	conn.Write(pkt)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestStatsCountRequestsAndShowBusyWorkers(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, dir, sock := startEcho(t, "--stats", addr)
	m.waitLog(`stats server listening`, 1)
	const n = 7
	for i := 0; i < n; i++ {
		if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
			t.Fatalf("request %d: %d", i, code)
		}
	}
	// A worker counts a request just after sending its response, so the
	// client can read the reply before the count: wait for the count.
	st := *waitStats(t, addr, func(st *stats.Stats) bool {
		var sum uint64
		for _, w := range st.Workers {
			sum += w.Requests
		}
		return sum == n && countStatus(st, "busy") == 0
	})
	var total, tx uint64
	for _, w := range st.Workers {
		total += w.Requests
		tx += w.Tx
		if w.RSS == 0 || w.VSZ == 0 || w.PID == 0 || w.Status != "idle" || w.Accepting != 1 {
			t.Errorf("worker %+v", w)
		}
		if w.Requests > 0 && w.AvgRt == 0 {
			t.Errorf("worker %d served %d requests with avg_rt 0", w.ID, w.Requests)
		}
		if len(w.Cores) != 2 {
			t.Errorf("worker %d has %d cores, want threads = 2", w.ID, len(w.Cores))
		}
	}
	if total != n || tx == 0 || len(st.Workers) != 2 || st.PID != m.cmd.Process.Pid {
		t.Fatalf("requests %d (want %d), tx %d, workers %d, pid %d", total, n, tx, len(st.Workers), st.PID)
	}
	if len(st.Sockets) != 1 || st.Sockets[0].Name != sock || st.Sockets[0].MaxQueue != 100 {
		t.Fatalf("sockets %+v", st.Sockets)
	}

	fifo := filepath.Join(dir, "busy.fifo")
	syscall.Mkfifo(fifo, 0o666)
	done := make(chan int, 1)
	go func() { code, _ := uwsgiGet(t, sock, "/slow?"+fifo); done <- code }()
	os.ReadFile(fifo) // the slow request is inside the app now
	st, _, err := stats.Fetch(addr)
	if err != nil {
		t.Fatal(err)
	}
	busy := 0
	for _, w := range st.Workers {
		for _, c := range w.Cores {
			if c.InRequest == 1 {
				busy++
				if w.Status != "busy" || !contains(c.Vars, "PATH_INFO=/slow") || time.Now().Unix()-c.ReqInfo.RequestStart > 5 {
					t.Errorf("busy core: status %s vars %v start %d", w.Status, c.Vars, c.ReqInfo.RequestStart)
				}
			}
		}
	}
	if busy != 1 {
		t.Fatalf("%d busy cores during one slow request", busy)
	}
	if code := <-done; code != 200 {
		t.Fatalf("slow request: %d", code)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestStatsHTTPAndPrometheus(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, _, sock := startEcho(t, "--stats", addr, "--stats-http")
	m.waitLog(`stats server listening`, 1)
	uwsgiGet(t, sock, "/pid")
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"listen_queue"`) {
		t.Fatalf("stats-http: %v %.80q", resp.Header, body)
	}
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	var requests float64
	for _, m := range families["supervise_requests_total"].GetMetric() {
		requests += m.GetCounter().GetValue()
	}
	if requests != 1 {
		t.Fatalf("supervise_requests_total sums to %v, want 1", requests)
	}
	for _, name := range []string{"supervise_workers", "supervise_worker_rss_bytes", "supervise_response_time_seconds",
		"supervise_listen_queue", "supervise_worker_respawns_total", "supervise_exceptions_total"} {
		if families[name] == nil {
			t.Errorf("no %s", name)
		}
	}
}

func TestStalledStatsClientsDoNotDelayRespawns(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, _, _ := startEcho(t, "--stats", addr, "--stats-http")
	m.waitLog(`stats server listening`, 1)
	for i := 0; i < 20; i++ { // connect, send nothing, never read
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	pids := m.workerPids()
	syscall.Kill(pids[0], syscall.SIGKILL)
	m.waitLog(`spawned worker`, 3)
	m.waitLog(`ready: `, 3)
	if _, _, err := stats.Fetch(addr); err != nil {
		t.Fatalf("stats after stalled clients: %v", err)
	}
}

func TestStatsOnUnixSocketIsPrivate(t *testing.T) {
	path := filepath.Join(shortTempDir(t), "stats.sock")
	m, _, _ := startEcho(t, "--stats", path)
	m.waitLog(`stats server listening`, 1)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stats socket mode %v %v, want 0600", fi.Mode().Perm(), err)
	}
	var stderr strings.Builder
	if code := statsVerb([]string{path}, nil, &stderr); code != 0 {
		t.Fatalf("supervise stats: %d %s", code, stderr.String())
	}
}

func TestSIGUSR1LogsStats(t *testing.T) {
	m, _, sock := startEcho(t)
	uwsgiGet(t, sock, "/pid")
	// The worker counts a request in the scoreboard just after the client
	// has its answer, so the first report may still say requests=0: ask
	// again until one counts it.
	for i := 1; ; i++ {
		m.signal(syscall.SIGUSR1)
		reports := m.waitLog(`stats: workers=2 requests=`, i)
		if strings.Contains(reports[i-1], "requests=1 ") {
			return
		}
		if i == 50 {
			t.Fatalf("50 stats reports and none counted the request: %q", reports[i-1])
		}
	}
}

func TestTopShowsWorkersAndQuitsOnQ(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, _, sock := startEcho(t, "--stats", addr)
	m.waitLog(`stats server listening`, 1)
	uwsgiGet(t, sock, "/pid")
	waitStats(t, addr, func(st *stats.Stats) bool { return countStatus(st, "busy") == 0 }) // counted after the reply
	top := exec.Command(os.Args[0], "top", addr)
	top.Env = append(os.Environ(), envRunMain+"=1")
	stdin, _ := top.StdinPipe()
	stdout, _ := top.StdoutPipe()
	if err := top.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { top.Process.Kill(); top.Wait() })
	r := bufio.NewReader(stdout)
	screens := 0
	for screens < 2 { // the second screen has req/s from two readings
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("top output ended: %v", err)
		}
		if strings.Contains(line, "WID") && strings.Contains(line, "REQ/S") {
			screens++
		}
	}
	line, _ := r.ReadString('\n')
	if !strings.Contains(line, " idle ") || !strings.Contains(line, fmt.Sprint(m.workerPids()[0])) && !strings.Contains(line, fmt.Sprint(m.workerPids()[1])) {
		t.Fatalf("worker row %q", line)
	}
	stdin.Write([]byte("q"))
	done := make(chan error, 1)
	go func() { io.Copy(io.Discard, r); done <- top.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("top after q: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("top did not quit on q")
	}
}

func TestStatsMinifiedAbstractAndExposureWarning(t *testing.T) {
	abstract := "@supervise-test-" + strconv.Itoa(os.Getpid())
	m, _, _ := startEcho(t, "--stats", abstract, "--stats-minified")
	m.waitLog(`stats server listening`, 1)
	_, raw, err := stats.Fetch(abstract)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(string(raw)), "\n"); n != 0 {
		t.Fatalf("stats-minified gave %d lines", n+1)
	}
	public := fmt.Sprintf("0.0.0.0:%d", freePort(t))
	m2, _, _ := startEcho(t, "--stats", public)
	m2.waitLog(`the stats server listens beyond loopback`, 1)
}
