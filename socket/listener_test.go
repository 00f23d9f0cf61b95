package socket

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnixSocketModeAndVacuum(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := Bind(path, "uwsgi", Options{Backlog: 16, Mode: 0o666})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o666 {
		t.Fatalf("mode %v, want 0666", fi.Mode().Perm())
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the socket does not accept connections: %v", err)
	}
	conn.Close()
	if err := l.Close(true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("vacuum left the socket file")
	}
}

func TestStaleSocketIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	old, err := Bind(path, "uwsgi", Options{Backlog: 16})
	if err != nil {
		t.Fatal(err)
	}
	old.Close(false) // a crashed server leaves its file behind
	l, err := Bind(path, "uwsgi", Options{Backlog: 16})
	if err != nil {
		t.Fatalf("a stale socket file blocked the bind: %v", err)
	}
	l.Close(true)
}

func TestLiveSocketIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	live, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	_, err = Bind(path, "uwsgi", Options{Backlog: 16})
	if err == nil || !strings.Contains(err.Error(), "another server answers there") {
		t.Fatalf("binding over a live server: err = %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal("the live server's socket file was removed")
	}
}

func TestRegularFileIsNotRemoved(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	os.WriteFile(path, []byte("data"), 0o600)
	if _, err := Bind(path, "uwsgi", Options{Backlog: 16}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("err = %v, want a refusal to replace a regular file", err)
	}
}

func TestVacuumLeavesAnotherServersSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.sock")
	l, err := Bind(path, "uwsgi", Options{Backlog: 16})
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path) // someone replaced it
	other, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	l.Close(true)
	if _, err := os.Stat(path); err != nil {
		t.Fatal("vacuum removed a socket file that was not ours")
	}
}

func TestTCPForms(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0", "localhost:0"} {
		t.Run(addr, func(t *testing.T) {
			l, err := Bind(addr, "http", Options{Backlog: 16})
			if err != nil {
				if strings.Contains(addr, "::1") && strings.Contains(err.Error(), "address not available") {
					t.Skip("no IPv6 loopback here")
				}
				t.Fatal(err)
			}
			defer l.Close(false)
			conn, err := net.Dial("tcp", l.Addr())
			if err != nil {
				t.Fatalf("dial %s: %v", l.Addr(), err)
			}
			conn.Close()
		})
	}
}

func TestPortInUse(t *testing.T) {
	l, err := Bind("127.0.0.1:0", "uwsgi", Options{Backlog: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(false)
	_, err = Bind(l.Addr(), "uwsgi", Options{Backlog: 16})
	if err == nil || !strings.Contains(err.Error(), "another server listens there") {
		t.Fatalf("err = %v", err)
	}
}

func TestBacklogAboveSomaxconnIsRefused(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "somaxconn")
	os.WriteFile(fake, []byte("128\n"), 0o600)
	old := SomaxconnPath
	SomaxconnPath = fake
	defer func() { SomaxconnPath = old }()
	_, err := Bind("127.0.0.1:0", "uwsgi", Options{Backlog: 200})
	if err == nil || !strings.Contains(err.Error(), "net.core.somaxconn (128)") {
		t.Fatalf("err = %v", err)
	}
	l, err := Bind("127.0.0.1:0", "uwsgi", Options{Backlog: 128})
	if err != nil {
		t.Fatal(err)
	}
	l.Close(false)
}

func TestBadAddress(t *testing.T) {
	for _, addr := range []string{"nonsense", "127.0.0.1:99999", "127.0.0.1:http"} {
		if _, err := Bind(addr, "uwsgi", Options{Backlog: 16}); err == nil {
			t.Errorf("Bind(%q) succeeded", addr)
		}
	}
}

func TestAbstractSocket(t *testing.T) {
	name := "@supervise-test-" + filepath.Base(t.TempDir())
	l, err := Bind(name, "uwsgi", Options{Backlog: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(true)
	conn, err := net.Dial("unix", "\x00"+name[1:])
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

func TestQueueCountsWaitingConnections(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", filepath.Join(t.TempDir(), "q.sock")} {
		l, err := Bind(addr, "uwsgi", Options{Backlog: 50})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(true)
		q, max, err := l.Queue()
		if err != nil || q != 0 || max != 50 {
			t.Fatalf("%s: idle queue %d/%d %v, want 0/50", addr, q, max, err)
		}
		network := "tcp"
		if l.Network == "unix" {
			network = "unix"
		}
		for i := 0; i < 3; i++ { // nobody accepts: they wait in the queue
			c, err := net.Dial(network, l.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		if q, _, err := l.Queue(); err != nil || q != 3 {
			t.Fatalf("%s: queue %d %v, want 3", addr, q, err)
		}
	}
}
