package frontend

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/uwsgi"
)

// helperEnv names the helper the test binary runs instead of the tests.
const helperEnv = "FRONTEND_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "front-nofile" {
		os.Exit(frontWithNOFILE())
	}
	os.Exit(m.Run())
}

// frontWithNOFILE is a front end under a small RLIMIT_NOFILE
// (FE_NOFILE), forwarding to FE_BACKEND (FE_NO_LOOP=1: net/http alone):
// it prints its address, serves until stdin closes, and logs to stderr.
func frontWithNOFILE() int {
	n, _ := strconv.ParseUint(os.Getenv("FE_NOFILE"), 10, 64)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: n, Max: n}); err != nil {
		fmt.Fprintln(os.Stderr, "setrlimit:", err)
		return 1
	}
	s, err := New(Config{Backends: []string{os.Getenv("FE_BACKEND")}, NoEventLoop: os.Getenv("FE_NO_LOOP") == "1",
		DisableLogging: true, Log: hclog.New(&hclog.LoggerOptions{Output: os.Stderr, Level: hclog.Info})})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	go s.Serve(ln)
	io.Copy(io.Discard, os.Stdin)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	return 0
}

// TestFDLimitKeepsRoomForWorkers: with 64 descriptors and 300 clients at
// once, a front end that accepted them all would have none left for the
// workers' sockets (502s). It stops accepting at its budget instead, the
// clients wait in the listen queue, and all are answered; the limit is
// logged once. Both paths.
func TestFDLimitKeepsRoomForWorkers(t *testing.T) {
	for _, noLoop := range []string{"0", "1"} {
		t.Run("no-loop="+noLoop, func(t *testing.T) {
			dir := tempDir(t)
			w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, p *uwsgi.Packet, body []byte) {
				time.Sleep(5 * time.Millisecond) // work: keeps connections open together
				answer("ok")(c, p, body)
			})
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), helperEnv+"=front-nofile", "FE_NOFILE=64", "FE_BACKEND="+w.path, "FE_NO_LOOP="+noLoop)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				stdin.Close()
				cmd.Wait()
			})
			addr, err := bufio.NewReader(stdout).ReadString('\n')
			if err != nil {
				t.Fatalf("front end did not start: %v\n%s", err, stderr.String())
			}
			addr = strings.TrimSpace(addr)

			const clients = 300
			var mu sync.Mutex
			statuses := map[string]int{}
			var wg sync.WaitGroup
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					status := fdClient(addr)
					mu.Lock()
					statuses[status]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			stdin.Close()
			cmd.Wait()
			if statuses["200"] < clients-3 { // a few may meet a full listen queue
				t.Errorf("answers %v of %d clients; want (nearly) all 200\n%s", statuses, clients, stderr.String())
			}
			if n := strings.Count(stderr.String(), "open-files limit reached"); n != 1 {
				t.Errorf("%d lines about the limit; want 1:\n%s", n, stderr.String())
			}
		})
	}
}

// fdClient sends one request on its own connection: the status, or what
// went wrong.
func fdClient(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"); err != nil {
		return "write: " + err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "read: " + err.Error()
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}
