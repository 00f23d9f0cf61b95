package ipc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNotifyCarriesTheSendersPid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	l, err := ListenNotify(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv(EnvNotifySocket, path)
	if err := Notify("READY=1\nSTATUS=serving"); err != nil {
		t.Fatal(err)
	}
	n, err := l.Receive()
	if err != nil {
		t.Fatal(err)
	}
	if n.PID != os.Getpid() {
		t.Fatalf("pid %d, want %d", n.PID, os.Getpid())
	}
	if n.Fields["READY"] != "1" || n.Fields["STATUS"] != "serving" {
		t.Fatalf("fields %v", n.Fields)
	}
}

func TestNotifyWithoutSocketIsNoop(t *testing.T) {
	t.Setenv(EnvNotifySocket, "")
	if err := Notify(NotifyReady); err != nil {
		t.Fatal(err)
	}
}

func TestParseNotify(t *testing.T) {
	got := ParseNotify("READY=1\n\nbogus\nSTATUS=a=b")
	if len(got) != 2 || got["READY"] != "1" || got["STATUS"] != "a=b" {
		t.Fatalf("%v", got)
	}
}
