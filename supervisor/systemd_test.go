package supervisor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/ipc"
)

// A drain keeps asking systemd for time on every tick, and stops once the
// unit is ready again.
func TestSystemdExtendsOnlyWhileDraining(t *testing.T) {
	l, err := ipc.ListenNotify(filepath.Join(t.TempDir(), "notify"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", l.Path)
	sd := newSystemd(hclog.NewNullLogger(), ipc.ParseEnv(os.Environ()))
	next := func() map[string]string {
		t.Helper()
		ch := make(chan ipc.Notification, 1)
		go func() {
			if n, err := l.Receive(); err == nil {
				ch <- n
			}
		}()
		select {
		case n := <-ch:
			return n.Fields
		case <-time.After(10 * time.Second):
			t.Fatal("no notification")
			return nil
		}
	}
	h := sd.hooks()
	sd.extend() // not draining: nothing
	h.Reloading()
	if f := next(); f["RELOADING"] != "1" || f["EXTEND_TIMEOUT_USEC"] != "15000000" {
		t.Fatalf("reloading: %v", f)
	}
	sd.extend()
	if f := next(); len(f) != 1 || f["EXTEND_TIMEOUT_USEC"] != "15000000" {
		t.Fatalf("a tick while reloading: %v", f)
	}
	h.ReloadFailed(3, "refused: bad ini")
	if f := next(); f["READY"] != "1" || f["STATUS"] != "reload failed (refused: bad ini); generation 3 keeps serving" {
		t.Fatalf("after a failed reload: %v", f)
	}
	sd.extend() // ready again: nothing
	sd.send("WATCHDOG=1")
	if f := next(); f["WATCHDOG"] != "1" {
		t.Fatalf("a tick after the reload sent %v", f)
	}
}
