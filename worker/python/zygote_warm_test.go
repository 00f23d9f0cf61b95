package python_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/ipc"
)

// The zygote runs the after-fork callbacks CPython runs in every child
// (threading's, logging's) before it forks, so their code is specialized
// in the zygote's pages, shared by the workers, not in each worker's
// (docs/benchmarks.md, "Session 7"). With another thread alive it leaves
// them alone: threading's would mark that thread stopped.
func TestZygoteWarmsTheAfterForkCallbacks(t *testing.T) {
	dir := runtimeDir(t)
	const driver = `
import dis, importlib.util, logging, sys, threading
if sys.version_info < (3, 11):
    print("old"); sys.exit(0)
spec = importlib.util.spec_from_file_location("z", sys.argv[1])
z = importlib.util.module_from_spec(spec)
spec.loader.exec_module(z)
other = None
if sys.argv[2] == "threaded":
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
z.warm_fork_callbacks()
def specialized(f):
    return sum(1 for i in dis.get_instructions(f, adaptive=True) if i.opname not in dis.opmap)
print(specialized(threading._after_fork), specialized(logging._after_at_fork_child_reinit_locks),
      other is None or other.is_alive())
`
	run := func(mode string) string {
		out, err := exec.Command(python3, "-c", driver, filepath.Join(dir, "zygote.py"), mode).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	out := run("single")
	if out == "old" {
		t.Skip("Python older than 3.11: no specializing interpreter")
	}
	if f := strings.Fields(out); len(f) != 3 || f[0] == "0" || f[1] == "0" {
		t.Fatalf("single-threaded zygote: specialized instructions (threading, logging, other alive) = %q, want both > 0", out)
	}
	if got := run("threaded"); got != "0 0 True" {
		t.Fatalf("with another thread: %q, want the callbacks not run (0 0) and the thread alive", got)
	}
}

// The scoreboard writer's lookup tables (status class, duration bucket:
// 90 KB of lists) are built once when worker.py is imported, in the
// zygote, so its workers share them instead of each building its own
// after the fork (docs/benchmarks.md, "Session 8").
func TestScoreboardTablesAreSharedFromTheImport(t *testing.T) {
	sb, err := ipc.CreateScoreboard(2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	const driver = `
import importlib.util, sys
spec = importlib.util.spec_from_file_location("w", sys.argv[1])
w = importlib.util.module_from_spec(spec)
spec.loader.exec_module(w)
a, b = w.Scoreboard(3, 0), w.Scoreboard(3, 1)
print(a.fast_bucket is b.fast_bucket and a.class_of is b.class_of)
`
	cmd := exec.Command(python3, "-c", driver, filepath.Join(runtimeDir(t), "worker.py"))
	cmd.ExtraFiles = []*os.File{sb.File}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "True" {
		t.Fatalf("two scoreboard slots share their lookup tables: %q, want True (built once, at import)", got)
	}
}
