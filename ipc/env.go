package ipc

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Env is the environment a process inherited, parsed once at start (the
// master and the front end read it in main; tests construct it with
// ParseEnv). It answers the contract's variables and systemd's, so no
// other code scans the environment by hand.
type Env struct {
	list []string
	vars map[string]string
}

// ParseEnv reads environ ("NAME=value" entries, os.Environ's form); the
// first entry of a name wins, as getenv's does.
func ParseEnv(environ []string) Env {
	e := Env{list: environ, vars: make(map[string]string, len(environ))}
	for _, kv := range environ {
		name, value, ok := strings.Cut(kv, "=")
		if _, seen := e.vars[name]; ok && !seen {
			e.vars[name] = value
		}
	}
	return e
}

// Get is name's value, "" when unset.
func (e Env) Get(name string) string { return e.vars[name] }

// Lookup is name's value and whether it is set.
func (e Env) Lookup(name string) (string, bool) {
	v, ok := e.vars[name]
	return v, ok
}

// List is the environment as it came, for a child that inherits it.
func (e Env) List() []string { return e.list }

// Int is name's value as a number; ok is false when unset or not one.
func (e Env) Int(name string) (n int, ok bool) {
	n, err := strconv.Atoi(e.vars[name])
	return n, err == nil
}

// ListenFDs is how many sockets systemd's socket activation passed from
// FirstListenFD on, when they are meant for pid (LISTEN_PID); 0 otherwise.
func (e Env) ListenFDs(pid int) int {
	to, ok1 := e.Int(EnvListenPID)
	n, ok2 := e.Int(EnvListenFDs)
	if !ok1 || !ok2 || to != pid || n < 0 {
		return 0
	}
	return n
}

// LifelineFD is the inherited lifeline's read end (EnvLifelineFD); ok is
// false for a process no master started.
func (e Env) LifelineFD() (fd int, ok bool) {
	fd, ok = e.Int(EnvLifelineFD)
	return fd, ok && fd >= 0
}

// Filter is the environment without the variables drop names, in order.
func (e Env) Filter(drop func(name string) bool) []string {
	out := make([]string, 0, len(e.list))
	for _, kv := range e.list {
		if name, _, _ := strings.Cut(kv, "="); !drop(name) {
			out = append(out, kv)
		}
	}
	return out
}

// Watchdog is systemd's watchdog timeout (WATCHDOG_USEC) when it is meant
// for pid (WATCHDOG_PID, when set); 0 when there is none. The rules are
// sd_watchdog_enabled's.
func (e Env) Watchdog(pid int) (time.Duration, error) {
	usec, ok := e.Lookup("WATCHDOG_USEC")
	if !ok || usec == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(usec)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("WATCHDOG_USEC=%q: not a positive number of microseconds", usec)
	}
	if to, ok := e.Lookup("WATCHDOG_PID"); ok && to != "" {
		p, err := strconv.Atoi(to)
		if err != nil {
			return 0, fmt.Errorf("WATCHDOG_PID=%q: not a pid", to)
		}
		if p != pid {
			return 0, nil
		}
	}
	return time.Duration(n) * time.Microsecond, nil
}
