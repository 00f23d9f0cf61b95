package supervisor

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// The pidfile is rewritten by every master that starts, an upgraded one
// included, while `supervise reload --pidfile` may be reading it: a reader
// must see the old pid or the new one, never an empty file.
func TestPidfileIsReplacedNeverTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.pid")
	if err := os.WriteFile(path, []byte("12345\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if err := writePidfile(path); err != nil {
		t.Fatal(err)
	}
	if old, _ := io.ReadAll(reader); string(old) != "12345\n" {
		t.Fatalf("a reader that opened the pidfile before the rewrite read %q: the file was truncated in place", old)
	}
	raw, err := os.ReadFile(path)
	if err != nil || string(raw) != strconv.Itoa(os.Getpid())+"\n" {
		t.Fatalf("pidfile holds %q (%v)", raw, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Fatalf("left files beside the pidfile: %v", ents)
	}
}
