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
	deadSocket := func(path, network string) {
		t.Helper()
		var err error
		if network == "unixgram" {
			var c *net.UnixConn
			c, err = net.ListenUnixgram(network, &net.UnixAddr{Name: path, Net: network})
			if err == nil {
				c.Close()
			}
		} else {
			var l *net.UnixListener
			l, err = net.ListenUnix(network, &net.UnixAddr{Name: path, Net: network})
			if err == nil {
				l.SetUnlinkOnClose(false)
				l.Close()
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	worker := func(dir string) { os.WriteFile(filepath.Join(dir, "worker.py"), nil, 0o600) }
	// A killed master's: its notify and signal sockets are left, nobody
	// reads them.
	dead := mk("supervise-dead")
	worker(dead)
	deadSocket(filepath.Join(dead, "notify.sock"), "unixgram")
	deadSocket(filepath.Join(dead, "signals.sock"), "unixpacket")
	// A live master's: datagram and stream sockets still open.
	live := mk("supervise-live")
	worker(live)
	g, _ := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(live, "notify.sock"), Net: "unixgram"})
	defer g.Close()
	liveSignals := mk("supervise-live-signals") // only its seqpacket socket answers
	worker(liveSignals)
	deadSocket(filepath.Join(liveSignals, "notify.sock"), "unixgram")
	sp, _ := net.ListenUnix("unixpacket", &net.UnixAddr{Name: filepath.Join(liveSignals, "signals.sock"), Net: "unixpacket"})
	defer sp.Close()
	liveHTTP := mk("supervise-http-1")
	l, _ := net.Listen("unix", filepath.Join(liveHTTP, "uwsgi.sock"))
	defer l.Close()
	starting := mk("supervise-starting") // no socket yet
	worker(starting)
	// Not a runtime directory: a user's or a bench's, sockets dead too.
	bench := mk("supervise-bench.x")
	deadSocket(filepath.Join(bench, "app.sock"), "unix")
	other := mk("unrelated")
	os.WriteFile(filepath.Join(other, "x"), nil, 0o600)

	removed := removeStaleRuntimeDirs(tmp, "")
	if len(removed) != 1 || removed[0] != dead {
		t.Fatalf("removed %v, want only %s", removed, dead)
	}
	for _, d := range []string{live, liveSignals, liveHTTP, starting, bench, other} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("%s was removed: %v", d, err)
		}
	}
}
