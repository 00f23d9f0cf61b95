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
			writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			m := startMasterWith(t, dir, func(c *exec.Cmd) {
				c.Env = append(withoutVar(c.Env, "PYTHONDONTWRITEBYTECODE"), "TMPDIR="+dir)
				if tc.env != "" {
					c.Env = append(c.Env, tc.env)
				}
			}, "--http-socket", addr, "--module", "echo", "--processes", "2", "--python-bin", py, "--chdir", dir)
			m.waitLog(`all workers ready: generation=1`, 1)
			cache, _ := filepath.Glob(filepath.Join(dir, "supervise-*", "__pycache__", "worker.*.pyc"))
			if got := len(cache) == 1; got != tc.cached {
				t.Fatalf("worker.py's bytecode in the runtime directory: %v, want cached %v", cache, tc.cached)
			}
			m.signal(syscall.SIGHUP) // the new zygote starts from the cache, or compiles again
			m.waitLog(`all workers ready: generation=2`, 1)
			if code, body := get(t, "http://"+addr+"/pid"); code != 200 || body == "" {
				t.Fatalf("after the reload: GET /pid = %d %q", code, body)
			}
		})
	}
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
