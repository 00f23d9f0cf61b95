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
		return []string{fmt.Sprintf("pid %d %d", 1000+req.Seq, req.Seq)}
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
		return []string{fmt.Sprintf("pid %d %d", stray.Process.Pid, req.Seq-1), "error 0 unrelated", fmt.Sprintf("pid 4242 %d", req.Seq)}
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
		return []string{fmt.Sprintf("pid 4242 %d", req.Seq)}
	})
	z.env = []string{"PATH=/bin", "SUPERVISE_WORKER_ID=0", "SUPERVISE_ZYGOTE_FD=9", "A=1", "A=2", "SAME=x"}
	if _, err := z.Fork(&master.ProcSpec{Env: []string{"PATH=/bin", "SUPERVISE_WORKER_ID=3", "A=2", "SAME=x", "NEW=y", "NEW=z", "bad"}}); err != nil {
		t.Fatal(err)
	}
	req := <-got
	if want := []string{"SUPERVISE_WORKER_ID=3", "NEW=z"}; !slices.Equal(req.Set, want) {
		t.Errorf("set = %q, want %q", req.Set, want)
	}
	if want := []string{"SUPERVISE_ZYGOTE_FD"}; !slices.Equal(req.Unset, want) {
		t.Errorf("unset = %q, want %q", req.Unset, want)
	}
}
