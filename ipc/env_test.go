package ipc

import (
	"reflect"
	"testing"
	"time"
)

func TestEnv(t *testing.T) {
	e := ParseEnv([]string{"A=1", "A=2", "LISTEN_PID=42", "LISTEN_FDS=2", "EMPTY=", EnvLifelineFD + "=7", "NOEQUALS"})
	if e.Get("A") != "1" {
		t.Errorf("A=%q, want the first, as getenv", e.Get("A"))
	}
	if v, ok := e.Lookup("EMPTY"); !ok || v != "" {
		t.Errorf("EMPTY: %q %v, want set and empty", v, ok)
	}
	if _, ok := e.Lookup("NOEQUALS"); ok {
		t.Error("an entry without = is not a variable")
	}
	if n := e.ListenFDs(42); n != 2 {
		t.Errorf("ListenFDs(42) = %d, want 2", n)
	}
	if n := e.ListenFDs(43); n != 0 {
		t.Errorf("ListenFDs for another pid = %d, want 0", n)
	}
	if fd, ok := e.LifelineFD(); !ok || fd != 7 {
		t.Errorf("LifelineFD = %d %v", fd, ok)
	}
	if got := e.Filter(func(n string) bool { return n != "A" }); !reflect.DeepEqual(got, []string{"A=1", "A=2"}) {
		t.Errorf("Filter kept %q", got)
	}
	if _, ok := ParseEnv(nil).LifelineFD(); ok {
		t.Error("no lifeline without the variable")
	}
}

func TestEnvWatchdog(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want time.Duration
		err  bool
	}{
		{nil, 0, false},
		{[]string{"WATCHDOG_USEC=2000000"}, 2 * time.Second, false},
		{[]string{"WATCHDOG_USEC=2000000", "WATCHDOG_PID=42"}, 2 * time.Second, false},
		{[]string{"WATCHDOG_USEC=2000000", "WATCHDOG_PID=43"}, 0, false}, // another process's
		{[]string{"WATCHDOG_USEC=0"}, 0, true},
		{[]string{"WATCHDOG_USEC=soon"}, 0, true},
	} {
		got, err := ParseEnv(c.env).Watchdog(42)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%q: %v, %v; want %v, error %v", c.env, got, err, c.want, c.err)
		}
	}
}
