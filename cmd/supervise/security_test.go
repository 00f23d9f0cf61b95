package main

// Issue 14, the worker side: a worker that writes garbage into the shared
// scoreboard, clients that hold worker threads by saying nothing, and an
// app that closes its worker's listening socket.

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/stats"
)

// hostileMux is the Go test app plus /scribble: a compromised app that
// keeps writing a vars length of 2^64-1 and in-request flags into its own
// scoreboard slot, through the memfd every worker inherits.
func hostileMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", goTestMux())
	mux.HandleFunc("/scribble", func(w http.ResponseWriter, r *http.Request) {
		fd, _ := strconv.Atoi(os.Getenv(ipc.EnvScoreboardFD))
		slot, _ := strconv.Atoi(os.Getenv(ipc.EnvScoreboardIdx))
		dup, err := unix.Dup(fd)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		sb, err := ipc.OpenScoreboard(os.NewFile(uintptr(dup), "scoreboard"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		go func() { // honest requests rewrite these words: keep at it
			for {
				for c := 0; c < sb.Cores(); c++ {
					sb.SetCore(slot, c, ipc.CoreVarsLen, math.MaxUint64)
					sb.SetCore(slot, c, ipc.CoreInRequest, 1)
				}
				time.Sleep(time.Millisecond) // a hostile loop's pace, not a synchronisation
			}
		}()
		fmt.Fprint(w, os.Getpid())
	})
	return mux
}

// A worker that corrupts its scoreboard slot made the master panic
// ("slice bounds out of range") on the next stats read or harakiri check.
// Now the master logs it once, kills it, starts a replacement, and keeps
// answering stats.
func TestHostileWorkerWritingItsSlotIsReplaced(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	m := startMaster(t, dir, "--http-socket", httpAddr, "--stats", statsAddr, "--processes", "2", "--threads", "2",
		"--harakiri", "30", "--env", envHelper+"=hostile", "--", os.Args[0])
	m.waitLog(`all workers ready`, 1)
	code, body := get(t, "http://"+httpAddr+"/scribble")
	pid, err := strconv.Atoi(body)
	if code != 200 || err != nil {
		t.Fatalf("/scribble: %d %q", code, body)
	}
	// Stats read the slot while the garbage is there, until it is gone.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(m.log(), "corrupted its scoreboard slot"); {
		if _, _, err := stats.Fetch(statsAddr); err != nil || time.Now().After(deadline) {
			t.Fatalf("stats while a worker scribbles: %v (master running: %v)", err, m.running())
		}
	}
	m.waitLog(fmt.Sprintf(`worker corrupted its scoreboard slot; killing and replacing it: .*pid=%d .*vars length is 18446744073709551615`, pid), 1)
	waitGone(t, []int{pid}, 10*time.Second)
	m.waitLog(`spawned worker`, 3)
	m.waitLog(`all workers ready`, 1)
	if _, _, err := stats.Fetch(statsAddr); err != nil {
		t.Fatalf("stats after the replacement: %v", err)
	}
	if code, _ := get(t, "http://"+httpAddr+"/pid"); code != 200 || !m.running() {
		t.Fatalf("after the replacement: GET /pid %d, master running %v", code, m.running())
	}
	if n := strings.Count(m.log(), "corrupted its scoreboard slot"); n != 1 {
		t.Fatalf("logged %d times, want once", n)
	}
}

// Four clients that send two bytes and wait held a 4x1 pool for as long as
// they liked. socket-timeout closes them; a normal request is answered
// within the timeout plus a margin, and stats count the timeouts as read
// errors, as uWSGI does.
func TestSilentClientsCannotFreezeThePool(t *testing.T) {
	parallel(t)
	statsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, _, sock := startEcho(t, "--processes", "4", "--threads", "1", "--socket-timeout", "1", "--stats", statsAddr)
	for i := 0; i < 4; i++ {
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte{0, 0x10})
	}
	start := time.Now()
	done := make(chan string, 1)
	go func() { _, body := uwsgiGet(t, sock, "/pid"); done <- body }()
	select {
	case body := <-done:
		if _, err := strconv.Atoi(body); err != nil {
			t.Fatalf("GET /pid behind silent clients: %q", body)
		}
		t.Logf("answered after %v (socket-timeout 1 s)", time.Since(start).Round(time.Millisecond))
	case <-time.After(time.Second + 4*time.Second):
		t.Fatal("the pool stayed frozen past socket-timeout")
	}
	var readErrors uint64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		st, _, err := stats.Fetch(statsAddr)
		if err != nil {
			t.Fatal(err)
		}
		readErrors = 0
		for _, w := range st.Workers {
			for _, c := range w.Cores {
				readErrors += c.ReadErrors
			}
		}
		if readErrors >= 4 {
			return
		}
		time.Sleep(20 * time.Millisecond) // the counter has no change event
	}
	t.Fatalf("stats count %d read errors, want the 4 timeouts", readErrors)
}

// An app that closes fd 3 (its worker's listening socket) left the worker
// spinning on EBADF and counted as ready. It now exits and is replaced.
func TestAppClosingTheListeningSocketIsReplaced(t *testing.T) {
	parallel(t)
	closedListenerIsReplaced(t, debianPython(t))
}

// closedListenerIsReplaced runs an app that closes fd 3 on /close-fd3
// (with these extra flags): its worker exits, and the request that woke
// it on fd 3 is served by the replacement.
func closedListenerIsReplaced(t *testing.T, py string, extra ...string) {
	t.Helper()
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "app.sock")
	httpAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	writeFile(t, filepath.Join(dir, "closer.py"), `
import os
def application(environ, start_response):
    if environ["PATH_INFO"] == "/close-fd3":
        os.close(3)
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Length", str(len(body)))])
    return [body]
`)
	args := append([]string{"--socket", sock, "--http-socket", httpAddr, "--module", "closer", "--processes", "1",
		"--python-bin", py, "--chdir", dir}, extra...)
	m := startMaster(t, dir, args...)
	m.waitLog(`all workers ready`, 1)
	_, body := get(t, "http://"+httpAddr+"/close-fd3")
	pid, err := strconv.Atoi(body)
	if err != nil {
		t.Fatalf("/close-fd3: %q", body)
	}
	done := make(chan string, 1)
	go func() { _, body := uwsgiGet(t, sock, "/"); done <- body }() // wakes the worker on fd 3
	m.waitLog(`the listening socket is gone`, 1)
	waitGone(t, []int{pid}, 10*time.Second)
	m.waitLog(`spawned worker`, 2)
	select {
	case body := <-done:
		if body == strconv.Itoa(pid) || body == "" {
			t.Fatalf("the waiting request got %q from the dead worker", body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the request that woke the broken worker was never served by its replacement")
	}
}
