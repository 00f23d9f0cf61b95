package supervisor

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
)

// fakeZygote answers the fork socket's requests with answer(seq).
func fakeZygote(t *testing.T, answer func(req ipc.ZygoteForkRequest) []string) *zygoteConn {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	z := &zygoteConn{fd: fds[0]}
	t.Cleanup(z.Close)
	go func() {
		defer unix.Close(fds[1])
		buf := make([]byte, ipc.ZygoteMaxRequest)
		for {
			n, _, _, _, err := unix.Recvmsg(fds[1], buf, nil, 0)
			if err != nil || n == 0 {
				return
			}
			var req ipc.ZygoteForkRequest
			if json.Unmarshal(buf[:n], &req) != nil {
				return
			}
			for _, a := range answer(req) {
				unix.Sendmsg(fds[1], []byte(a), nil, nil, 0)
			}
		}
	}()
	return z
}

func TestZygoteForkGetsThePidOfItsOwnRequest(t *testing.T) {
	z := fakeZygote(t, func(req ipc.ZygoteForkRequest) []string {
		return []string{fmt.Sprintf("pids %d %d", req.Seq, 1000+req.Seq)}
	})
	for want := 1001; want <= 1002; want++ {
		pid, err := z.Fork(&master.ProcSpec{Env: []string{"A=1"}})
		if err != nil || pid != want {
			t.Fatalf("Fork = %d, %v; want %d", pid, err, want)
		}
	}
}

func TestZygoteLateAnswerIsSkippedAndItsWorkerKilled(t *testing.T) {
	stray := exec.Command("sleep", "30")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	defer stray.Process.Kill()
	z := fakeZygote(t, func(req ipc.ZygoteForkRequest) []string {
		// the answer to an earlier request that timed out comes first
		return []string{fmt.Sprintf("pids %d %d", req.Seq-1, stray.Process.Pid), "error 0 unrelated", fmt.Sprintf("pids %d 4242", req.Seq)}
	})
	z.seq = 7
	pid, err := z.Fork(&master.ProcSpec{})
	if err != nil || pid != 4242 {
		t.Fatalf("Fork = %d, %v; want 4242 (the late answer skipped)", pid, err)
	}
	done := make(chan error, 1)
	go func() { done <- stray.Wait() }()
	select {
	case err := <-done:
		if ws, ok := stray.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("the late answer's process ended with %v, want SIGKILL", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the late answer's process was not killed")
	}
}

func TestZygoteErrorAndGoneAreErrors(t *testing.T) {
	z := fakeZygote(t, func(req ipc.ZygoteForkRequest) []string {
		return []string{fmt.Sprintf("error %d fork failed", req.Seq)}
	})
	if _, err := z.Fork(&master.ProcSpec{}); err == nil || !strings.Contains(err.Error(), "fork failed") {
		t.Fatalf("Fork = %v, want the zygote's error", err)
	}
	gone := fakeZygote(t, func(ipc.ZygoteForkRequest) []string { return nil })
	gone.Close()
	if _, err := gone.Fork(&master.ProcSpec{}); err == nil {
		t.Fatal("Fork on a closed zygote connection succeeded")
	}
}

// A fork request carries only how the worker's environment differs from
// the zygote's: the zygote decodes a few strings between two forks.
func TestZygoteForkRequestCarriesOnlyTheDifferences(t *testing.T) {
	got := make(chan ipc.ZygoteForkRequest, 1)
	z := fakeZygote(t, func(req ipc.ZygoteForkRequest) []string {
		got <- req
		return []string{fmt.Sprintf("pids %d 4242", req.Seq)}
	})
	z.env = []string{"PATH=/bin", "SUPERVISE_WORKER_ID=0", "SUPERVISE_ZYGOTE_FD=9", "A=1", "A=2", "SAME=x"}
	if _, err := z.Fork(&master.ProcSpec{Env: []string{"PATH=/bin", "SUPERVISE_WORKER_ID=3", "A=2", "SAME=x", "NEW=y", "NEW=z", "bad"}}); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if len(req.Workers) != 1 {
		t.Fatalf("a fork request for one worker named %d", len(req.Workers))
	}
	w := req.Workers[0]
	if want := []string{"SUPERVISE_WORKER_ID=3", "NEW=z"}; !slices.Equal(w.Set, want) {
		t.Errorf("set = %q, want %q", w.Set, want)
	}
	if want := []string{"SUPERVISE_ZYGOTE_FD"}; !slices.Equal(w.Unset, want) {
		t.Errorf("unset = %q, want %q", w.Unset, want)
	}
	if w.Log != -1 {
		t.Errorf("log = %d for a worker without its own log pipe, want -1", w.Log)
	}
}

// ForkAll names several workers in one request (the zygote forks them
// back to back) and more than ipc.ZygoteMaxBatch in several; each worker
// gets its pid in order, and a fork the zygote answers with 0 is that
// worker's error alone.
func TestZygoteForkAllSendsOneRequestPerBatch(t *testing.T) {
	sized := make(chan int, 10)
	z := fakeZygote(t, func(req ipc.ZygoteForkRequest) []string {
		sized <- len(req.Workers)
		pids := ""
		for i, w := range req.Workers {
			id, _ := strings.CutPrefix(w.Set[0], "SUPERVISE_WORKER_ID=")
			if i == 1 && req.Seq == 1 {
				id = "0" // this one's fork failed
			}
			pids += " " + id
		}
		return []string{fmt.Sprintf("pids %d%s", req.Seq, pids)}
	})
	z.env = []string{"SUPERVISE_WORKER_ID=0"}
	n := ipc.ZygoteMaxBatch + 3
	specs := make([]*master.ProcSpec, n)
	for i := range specs {
		specs[i] = &master.ProcSpec{Env: []string{fmt.Sprintf("SUPERVISE_WORKER_ID=%d", 100+i)}}
	}
	pids, errs := z.ForkAll(specs)
	sizes := []int{<-sized, <-sized}
	if !slices.Equal(sizes, []int{ipc.ZygoteMaxBatch, 3}) || len(sized) > 0 {
		t.Fatalf("requests of %v workers, want %v", sizes, []int{ipc.ZygoteMaxBatch, 3})
	}
	for i := range specs {
		if i == 1 {
			if errs[i] == nil || pids[i] != 0 {
				t.Errorf("worker 1: pid %d, error %v; want the failed fork's error", pids[i], errs[i])
			}
			continue
		}
		if errs[i] != nil || pids[i] != 100+i {
			t.Errorf("worker %d: pid %d, error %v; want pid %d", i, pids[i], errs[i], 100+i)
		}
	}
}

func TestZygoteAnswerWithTheWrongCountIsAnError(t *testing.T) {
	z := fakeZygote(t, func(req ipc.ZygoteForkRequest) []string {
		return []string{fmt.Sprintf("pids %d 4242", req.Seq)}
	})
	_, errs := z.ForkAll([]*master.ProcSpec{{}, {}})
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("an answer naming 1 pid for 2 workers gave errors %v", errs)
	}
}
