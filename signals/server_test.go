package signals

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// A zygote's registrations are the master's table (uWSGI's non-lazy
// mode): registered once, inherited by the workers it forks, which
// connect on their own. signal() from one worker then reaches every
// worker, a timer added once fires once per period on each, and the
// master's table refuses a second registration of a signal.
func TestZygoteRegistersOnceForItsWorkers(t *testing.T) {
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("needs /usr/bin/python3")
	}
	dir := t.TempDir()
	srv, err := Listen(filepath.Join(dir, "signals.sock"), hclog.NewNullLogger(), func() int { return 2 })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mod, _ := filepath.Abs("../worker/python/uwsgi_signals.py")
	cmd := exec.Command(py, "testdata/zygote.py", srv.Path, mod)
	cmd.Env = append(os.Environ(), "TRIGGER_DIR="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Process.Kill()
			t.Error("the zygote did not exit when its stdin closed")
		}
	}()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var seen []string
	next := func(want string) {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the zygote's output ended before %q; had %q", want, seen)
				}
				seen = append(seen, l)
				if strings.HasPrefix(l, want) {
					return
				}
			case <-timeout:
				t.Fatalf("no %q; had %q", want, seen)
			}
		}
	}
	next("rereg unable to register signal")
	pids := map[int]int{}
	for len(pids) < 2 {
		next("ready ")
		f := strings.Fields(seen[len(seen)-1])
		id, _ := strconv.Atoi(f[1])
		pids[id], _ = strconv.Atoi(f[2])
	}
	raise := func(num, worker int) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("raise%d-%d", num, worker)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	raise(20, 1) // worker 1 raises 20 (target workers)
	next("got 20 ")
	next("got 20 ")
	raise(6, 1) // worker 1 raises 6 (target worker2)
	next("got 6 2")
	// The timer: six deliveries once both workers are up are three
	// periods, each reaching both workers.
	timer := map[string]int{}
	for n := 0; n < 6; n++ {
		next("got 5 ")
		timer[seen[len(seen)-1]]++
	}
	c := map[string]int{}
	for _, l := range seen {
		if strings.HasPrefix(l, "got ") {
			c[l]++
		}
	}
	if c["got 20 1"] != 1 || c["got 20 2"] != 1 {
		t.Errorf("signal(20) to workers reached %v, want each worker once", c)
	}
	if c["got 6 1"] != 0 {
		t.Errorf("signal 6 (target worker2) reached worker 1: %v", c)
	}
	if d := timer["got 5 1"] - timer["got 5 2"]; d < -1 || d > 1 {
		t.Errorf("the zygote's 1 s timer for workers reached %v, want both workers alike", timer)
	}
}
