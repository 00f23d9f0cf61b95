package python

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// An upgraded master keeps the earlier directory's bytecode of files
// whose source did not change (their new copies take the old mtime, which
// the cache recorded) and drops that of files that did.
func TestMoveBytecodeKeepsOnlyWhatStillMatches(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	if _, err := WriteAll(from, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Unix(1_600_000_000, 0)
	for _, name := range Names() {
		os.Chtimes(filepath.Join(from, name), old, old)
	}
	// The earlier binary's uwsgi_sem.py differed from this one's.
	if err := os.WriteFile(filepath.Join(from, "uwsgi_sem.py"), []byte("# another version\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(from, cacheDir)
	os.Mkdir(cache, 0o755)
	for _, pyc := range []string{"worker.cpython-311.pyc", "uwsgi_sem.cpython-311.pyc"} {
		os.WriteFile(filepath.Join(cache, pyc), []byte("bytecode"), 0o600)
	}
	if _, err := WriteAll(to, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MoveBytecode(from, to); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(to, cacheDir, "worker.cpython-311.pyc")); err != nil {
		t.Errorf("worker.py's bytecode was not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(to, cacheDir, "uwsgi_sem.cpython-311.pyc")); !os.IsNotExist(err) {
		t.Errorf("the bytecode of a file that changed was kept (%v)", err)
	}
	for name, want := range map[string]bool{"worker.py": true, "uwsgi_sem.py": false} {
		st, err := os.Stat(filepath.Join(to, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.ModTime().Equal(old); got != want {
			t.Errorf("%s has the earlier file's mtime: %v, want %v", name, got, want)
		}
	}
}

// Without a cache (PYTHONDONTWRITEBYTECODE) there is nothing to move.
func TestMoveBytecodeWithoutACache(t *testing.T) {
	from, to := t.TempDir(), t.TempDir()
	WriteAll(from, 0o600)
	WriteAll(to, 0o600)
	if err := MoveBytecode(from, to); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(to, cacheDir)); !os.IsNotExist(err) {
		t.Fatalf("a cache appeared: %v", err)
	}
}
