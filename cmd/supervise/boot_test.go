package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Python compiles the script it runs at every start and never caches it,
// so the master runs boot.py, which loads worker.py through the import
// system: the first Python process of the runtime directory (the
// zygote) compiles it and leaves its bytecode in __pycache__ there, and
// the later ones (a reload's zygote, spoolers, mules, lazy workers) read
// it. PYTHONDONTWRITEBYTECODE, as for any module, means no cache.
func TestWorkerBytecodeIsCachedInTheRuntimeDirectory(t *testing.T) {
	parallel(t)
	for _, tc := range []struct {
		name   string
		env    string
		cached bool
	}{
		{"default", "", true},
		{"PYTHONDONTWRITEBYTECODE", "PYTHONDONTWRITEBYTECODE=1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			py := debianPython(t)
			dir := shortTempDir(t)
			pidfile := filepath.Join(dir, "app.pid")
			writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			m := startMasterWith(t, dir, func(c *exec.Cmd) {
				c.Env = append(withoutVar(c.Env, "PYTHONDONTWRITEBYTECODE"), "TMPDIR="+dir)
				if tc.env != "" {
					c.Env = append(c.Env, tc.env)
				}
			}, "--http-socket", addr, "--module", "echo", "--processes", "2", "--python-bin", py, "--chdir", dir,
				"--pidfile", pidfile)
			m.waitLog(`all workers ready: generation=1`, 1)
			compiled := workerBytecode(t, dir)
			if got := compiled != 0; got != tc.cached {
				t.Fatalf("worker.py's bytecode in the runtime directory: %v, want cached %v", got, tc.cached)
			}
			// A reload's zygote, and an upgraded master's, start from the
			// cache: a recompiled file would be written anew (another inode).
			m.signal(syscall.SIGHUP)
			m.waitLog(`all workers ready: generation=2`, 1)
			if now := workerBytecode(t, dir); now != compiled {
				t.Fatalf("after a reload, worker.py's bytecode is inode %d, was %d: compiled again", now, compiled)
			}
			var stderr strings.Builder
			if code := run([]string{"upgrade", "--pidfile", pidfile}, nil, &stderr); code != 0 {
				t.Fatalf("supervise upgrade: %d %s", code, stderr.String())
			}
			m.waitLog(`all workers ready: generation=3`, 1)
			if now := workerBytecode(t, dir); now != compiled {
				t.Fatalf("after an upgrade, worker.py's bytecode is inode %d, was %d: compiled again", now, compiled)
			}
			if code, body := get(t, "http://"+addr+"/pid"); code != 200 || body == "" {
				t.Fatalf("after the upgrade: GET /pid = %d %q", code, body)
			}
		})
	}
}

// workerBytecode is the inode of worker.py's cached bytecode in the one
// runtime directory under tmp, 0 when there is none.
func workerBytecode(t *testing.T, tmp string) uint64 {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(tmp, "supervise-*"))
	if len(dirs) != 1 {
		t.Fatalf("runtime directories under %s: %v, want one", tmp, dirs)
	}
	cache, _ := filepath.Glob(filepath.Join(dirs[0], "__pycache__", "worker.*.pyc"))
	if len(cache) == 0 {
		return 0
	}
	return inode(t, cache[0])
}

// withoutVar is env without NAME's entries.
func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
