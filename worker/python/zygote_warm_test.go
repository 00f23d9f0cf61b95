package python_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
