package supervisor

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveStaleRuntimeDirs(t *testing.T) {
	tmp := t.TempDir()
	mk := func(name string) string {
		d := filepath.Join(tmp, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		return d
	}
	// A killed master's: its notify socket file is left, nobody reads it.
	dead := mk("supervise-dead")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dead, "notify.sock"), Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// A live master's: datagram and stream sockets still open.
	live := mk("supervise-live")
	g, _ := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(live, "notify.sock"), Net: "unixgram"})
	defer g.Close()
	liveHTTP := mk("supervise-http-1")
	l, _ := net.Listen("unix", filepath.Join(liveHTTP, "uwsgi.sock"))
	defer l.Close()
	starting := mk("supervise-starting") // no socket yet
	other := mk("unrelated")
	os.WriteFile(filepath.Join(other, "x"), nil, 0o600)

	removed := removeStaleRuntimeDirs(tmp)
	if len(removed) != 1 || removed[0] != dead {
		t.Fatalf("removed %v, want only %s", removed, dead)
	}
	for _, d := range []string{live, liveHTTP, starting, other} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s was removed: %v", d, err)
		}
	}
}
