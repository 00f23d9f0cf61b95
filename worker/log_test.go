package worker

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The worker's lines are byte for byte what hclog writes (the master's
// log sink, its JSON re-encoding and the tests read them), plain and JSON,
// for the kinds of values the worker logs.
func TestLogLinesMatchHclog(t *testing.T) {
	at := time.Date(2026, 11, 30, 5, 6, 7, 891234000, time.FixedZone("", 3600))
	calls := []struct {
		level string
		msg   string
		kv    []any
	}{
		{"info", "ready", []any{"pid", 42, "threads", 4, "sockets", 1}},
		{"warn", "the master is gone (lifeline closed); exiting", nil},
		{"warn", "bad uwsgi packet; connection closed", []any{"error", errors.New(`vars block of 70000 bytes > "buffer-size" 4096`)}},
		{"warn", "socket-timeout: no data from the client; connection closed", []any{"timeout", 4 * time.Second}},
		{"error", "the handler panicked", []any{"method", "GET", "path", "/p\tq\x01\u2028\x7f", "panic", "boom", "stack", "goroutine 1:\nmain.f()\n\n\tx.go:1\n"}},
		{"info", "request", []any{"method", "GET", "path", "/a?b=c", "status", 200, "bytes", int64(12), "empty", "", "ms", uint64(3)}},
	}
	for _, js := range []bool{false, true} {
		var want, got bytes.Buffer
		h := hclog.New(&hclog.LoggerOptions{Name: "worker.3", Output: &want, TimeFormat: logTimeFormat, JSONFormat: js,
			TimeFn: func() time.Time { return at }})
		l := &logger{name: "worker.3", json: js, w: &got, now: func() time.Time { return at }}
		for _, c := range calls {
			switch c.level {
			case "info":
				h.Info(c.msg, c.kv...)
				l.Info(c.msg, c.kv...)
			case "warn":
				h.Warn(c.msg, c.kv...)
				l.Warn(c.msg, c.kv...)
			case "error":
				h.Error(c.msg, c.kv...)
				l.Error(c.msg, c.kv...)
			}
		}
		if got.String() != want.String() {
			t.Errorf("json=%v:\ngot\n%s\nwant (hclog)\n%s", js, got.String(), want.String())
		}
	}
}

// A Go app that links the worker does not link hclog.
func TestWorkerDoesNotLinkHclog(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to list the imports")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if strings.Contains(string(out), "hashicorp/go-hclog") {
		t.Fatal("package worker imports go-hclog; every Go app would link it")
	}
}
