package main

import (
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/supervise-go/supervise/stats"
	"github.com/supervise-go/supervise/uwsgi"
)

func TestHarakiriKillsAHungRequestsWorker(t *testing.T) {
	parallel(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, _, sock := startEcho(t, "--harakiri", "1", "--processes", "1", "--stats", addr)
	before := m.workerPids()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pkt, _ := uwsgi.AppendPacket(nil, 0, 0, []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"},
		{Key: "REQUEST_URI", Value: "/hang"}, {Key: "PATH_INFO", Value: "/hang"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.1"}})
	start := time.Now()
	conn.Write(pkt)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, _ := conn.Read(make([]byte, 100)) // returns when the worker dies
	took := time.Since(start)
	if n != 0 || took > 10*time.Second {
		t.Fatalf("hung request: read %d bytes after %v, want the connection cut near the 1 s harakiri", n, took)
	}
	m.waitLog(`HARAKIRI: .*request="GET /hang"`, 1)
	m.waitLog(`spawned worker`, 2)
	m.waitLog(`all workers ready`, 1)
	waitGone(t, before, 10*time.Second) // SIGKILLed; the master may spawn its successor before reaping it
	if after := m.workerPids(); len(after) != 1 || after[0] == before[0] {
		t.Fatalf("workers before %v after %v: not replaced", before, after)
	}
	if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
		t.Fatal("not serving after harakiri")
	}
	st, _, err := stats.Fetch(addr)
	if err != nil || st.Workers[0].HarakiriCount != 1 {
		t.Fatalf("harakiri_count %+v %v, want 1", st.Workers, err)
	}
}

func TestMaxRequestsRecyclesWithoutFailures(t *testing.T) {
	parallel(t)
	m, dir, sock := startEcho(t, "--max-requests", "5", "--processes", "1", "--min-worker-lifetime", "0")
	base := startNginx(t, dir, "unix:"+sock)
	load := startLoad(base+"/pid", 4)
	m.waitLog(`replacing worker: it served max-requests`, 3)
	m.waitLog(`worker stopped: `, 3)
	ok, failed, firstErr := load.finish()
	if failed != 0 {
		t.Fatalf("%d of %d requests failed while workers were recycled: %v", failed, ok+failed, firstErr)
	}
	if n := len(m.waitLog(`spawned worker`, 4)); n < 4 {
		t.Fatalf("%d workers started, want recycling", n)
	}
}

// Harakiri is per request: one of a Go worker's four threads hangs while
// the others keep serving, and only that worker is replaced.
func TestHarakiriKillsAGoWorkerWithAHungThread(t *testing.T) {
	parallel(t)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m, _, sock := startGoWorkers(t, "--harakiri", "2", "--processes", "1", "--stats", addr)
	hung := make(chan error, 1)
	go func() { _, _, err := uwsgiFetch(sock, "/hang"); hung <- err }()
	waitStats(t, addr, func(st *stats.Stats) bool { return countStatus(st, "busy") == 1 })
	if code, _, err := uwsgiFetch(sock, "/pid"); code != 200 {
		t.Fatalf("the other threads stopped serving while one hangs: %d %v", code, err)
	}
	if err := <-hung; err == nil {
		t.Fatal("the hung request got a response; want it cut by harakiri")
	}
	m.waitLog(`HARAKIRI: .*request="GET /hang"`, 1)
	st := waitStats(t, addr, func(st *stats.Stats) bool { return st.Workers[0].HarakiriCount == 1 && st.Workers[0].Accepting == 1 })
	if st.Workers[0].RespawnCount != 2 {
		t.Fatalf("respawn_count %d, want the worker replaced once", st.Workers[0].RespawnCount)
	}
}
