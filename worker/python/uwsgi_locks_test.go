package python_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/worker/python"
)

// The three lock engines of uwsgi_api.py exclude another process: named
// POSIX semaphores through CPython's SemLock (when the master names
// them), the robust pthread mutexes (through ctypes) and the fcntl
// fallback used when ctypes is missing. A child process holds lock 1; the parent sees it
// locked, and free again once the child is killed while holding it.
func TestUwsgiLockEngines(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	if _, err := python.WriteAll(dir, 0o600); err != nil {
		t.Fatal(err)
	}
	script := `
import os, sys, signal, importlib.util
if sys.argv[1] == "fcntl":
    sys.modules["ctypes"] = None  # no ctypes: the fallback
import tempfile
locks_file = tempfile.TemporaryFile()  # a memfd in a worker (os.memfd_create: Python 3.8+)
fd = locks_file.fileno()
os.environ.update(SUPERVISE_LOCKS_FD=str(fd), SUPERVISE_LOCKS="2")
if sys.argv[1] == "sem":
    os.environ["SUPERVISE_SEM_PREFIX"] = sys.argv[3]
spec = importlib.util.spec_from_file_location("uwsgi", sys.argv[2])
uwsgi = importlib.util.module_from_spec(spec)
spec.loader.exec_module(uwsgi)
engine = "sem" if uwsgi._sems is not None else "fcntl" if uwsgi._mutexes is None else "mutex"
assert engine == sys.argv[1], engine
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    uwsgi.lock(1)
    os.write(w, b"x")
    signal.pause()
os.read(r, 1)
assert uwsgi.is_locked(1) is True, "held by the child"
assert uwsgi.is_locked(0) is False
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
assert uwsgi.is_locked(1) is False, "released when its holder died"
uwsgi.lock(1); assert uwsgi.is_locked(1) is True; uwsgi.unlock(1); uwsgi.unlock(1)
assert uwsgi.is_locked(1) is False
try:
    uwsgi.lock(3)
except ValueError as e:
    assert str(e) == "Invalid lock number"
else:
    raise AssertionError("lock(3) with locks = 2")
print("ok", engine)
`
	prefix := fmt.Sprintf("/supervise-test-%d", os.Getpid())
	defer removeSems(prefix)
	for _, engine := range []string{"sem", "mutex", "fcntl"} {
		out, err := exec.Command(python3, "-c", script, engine, filepath.Join(dir, python.APIFileName), prefix).CombinedOutput()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok "+engine) {
			t.Errorf("%s: %v\n%s", engine, err, out)
		}
	}
}

// removeSems deletes the named semaphores a test's workers made.
func removeSems(prefix string) {
	names, _ := filepath.Glob("/dev/shm/sem." + strings.TrimPrefix(prefix, "/") + "-*")
	for _, n := range names {
		os.Remove(n)
	}
}
