package stats

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// orderedKeys returns the keys of the JSON object at the decoder, in order,
// recording the key lists of nested objects under path names.
func orderedKeys(t *testing.T, raw []byte) map[string][]string {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	keysOf := func(path string, obj []byte) {
		d := json.NewDecoder(bytes.NewReader(obj))
		d.Token() // {
		var keys []string
		for d.More() {
			tok, _ := d.Token()
			keys = append(keys, tok.(string))
			var skip json.RawMessage
			d.Decode(&skip)
		}
		if _, seen := out[path]; !seen {
			out[path] = keys
		}
	}
	var top map[string]json.RawMessage
	json.Unmarshal(raw, &top)
	keysOf("top", raw)
	var socks, workers []json.RawMessage
	json.Unmarshal(top["sockets"], &socks)
	json.Unmarshal(top["workers"], &workers)
	for _, s := range socks {
		keysOf("socket", s)
	}
	for _, w := range workers {
		keysOf("worker", w)
		var wm map[string]json.RawMessage
		json.Unmarshal(w, &wm)
		var apps, cores []json.RawMessage
		json.Unmarshal(wm["apps"], &apps)
		json.Unmarshal(wm["cores"], &cores)
		for _, a := range apps {
			keysOf("app", a)
		}
		for _, c := range cores {
			keysOf("core", c)
		}
	}
	return out
}

func TestKeysMatchUwsgiDumps(t *testing.T) {
	board, err := ipc.CreateScoreboard(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	board.SetWorker(0, ipc.WkPID, uint64(os.Getpid()))
	c := &Collector{Board: board, Sockets: []SocketInfo{{Name: "/tmp/x.sock", Proto: "uwsgi",
		Queue: func() (int, int, error) { return 0, 100, nil }}}}
	st := c.Collect([]WorkerInfo{{ID: 1, PID: os.Getpid(), Slot: 0, Ready: true, LastSpawn: time.Now()}})
	ours, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	got := orderedKeys(t, ours)
	for _, name := range []string{"uwsgi-2.0.21-stats-idle.json", "uwsgi-2.0.21-stats-busy.json", "uwsgi-2.0.21-stats-memory-report.json"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		want := orderedKeys(t, raw)
		for _, part := range []string{"top", "socket", "worker", "app", "core"} {
			if !reflect.DeepEqual(got[part], want[part]) {
				t.Errorf("%s: %s keys\n got %v\nwant %v", name, part, got[part], want[part])
			}
		}
	}
}

func TestBusyCoreShowsVarsAndStart(t *testing.T) {
	board, _ := ipc.CreateScoreboard(1, 2)
	defer board.Close()
	pid := os.Getpid()
	board.SetWorker(0, ipc.WkPID, uint64(pid))
	board.SetCore(0, 0, ipc.CoreRequests, 3)
	board.SetCore(0, 1, ipc.CoreRequests, 1)
	board.SetCore(0, 0, ipc.CoreRtTotalUs, 3000)
	board.SetCore(0, 1, ipc.CoreRtTotalUs, 1000)
	board.SetCore(0, 1, ipc.CoreInRequest, 1)
	board.SetCore(0, 1, ipc.CoreStartNs, monotonicNow())
	board.SetVars(0, 1, ipc.VarsHTTP, []byte("GET /sleep?3 HTTP/1.1\r\nHost: example\r\n"))
	st := (&Collector{Board: board}).Collect([]WorkerInfo{{ID: 1, PID: pid, Slot: 0, Ready: true}})
	w := st.Workers[0]
	if w.Status != "busy" || w.AvgRt != 1000 || w.Requests != 4 {
		t.Fatalf("worker %+v", w)
	}
	core := w.Cores[1]
	wantVars := []string{"REQUEST_METHOD=GET", "REQUEST_URI=/sleep?3", "PATH_INFO=/sleep", "QUERY_STRING=3", "SERVER_PROTOCOL=HTTP/1.1", "HTTP_HOST=example"}
	if core.InRequest != 1 || !reflect.DeepEqual(core.Vars, wantVars) {
		t.Fatalf("core %+v", core)
	}
	if d := time.Now().Unix() - core.ReqInfo.RequestStart; d < 0 || d > 2 {
		t.Fatalf("request_start %d is not now", core.ReqInfo.RequestStart)
	}
	if w.RSS == 0 || w.VSZ == 0 {
		t.Fatal("rss/vsz not filled")
	}
	if idle := w.Cores[0]; idle.InRequest != 0 || len(idle.Vars) != 0 || idle.ReqInfo.RequestStart != 0 {
		t.Fatalf("idle core %+v", idle)
	}
}

func TestStaleSlotIsNotReadForANewPid(t *testing.T) {
	board, _ := ipc.CreateScoreboard(1, 1)
	defer board.Close()
	board.SetWorker(0, ipc.WkPID, 1)
	board.SetCore(0, 0, ipc.CoreRequests, 99)
	st := (&Collector{Board: board}).Collect([]WorkerInfo{{ID: 1, PID: os.Getpid(), Slot: 0}})
	if st.Workers[0].Requests != 0 {
		t.Fatal("read another process's counters")
	}
}

func TestDeltaRequests(t *testing.T) {
	board, _ := ipc.CreateScoreboard(1, 1)
	defer board.Close()
	pid := os.Getpid()
	board.SetWorker(0, ipc.WkPID, uint64(pid))
	c := &Collector{Board: board}
	info := []WorkerInfo{{ID: 1, PID: pid, Slot: 0}}
	board.SetCore(0, 0, ipc.CoreRequests, 5)
	if d := c.Collect(info).Workers[0].DeltaRequests; d != 5 {
		t.Fatalf("first delta %d", d)
	}
	board.SetCore(0, 0, ipc.CoreRequests, 7)
	if d := c.Collect(info).Workers[0].DeltaRequests; d != 2 {
		t.Fatalf("second delta %d", d)
	}
}
