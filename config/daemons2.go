package config

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Daemon is an attach-daemon2 or smart-attach-daemon(2) entry.
type Daemon struct {
	Command string
	// Pidfile makes a smart daemon: started only when the pidfile names
	// no live process, and left running across reloads and master exits.
	Pidfile string
	// Daemonize: the command stays in the foreground and supervise writes
	// the pidfile (smart-attach-daemon2, daemonize=1).
	Daemonize    bool
	Freq         int // pidfile checks (one a second) before a start counts as failed
	StopSignal   syscall.Signal
	ReloadSignal syscall.Signal // sent on reload; the daemon keeps running
	Control      bool           // its death stops the master gracefully
	Stdin        bool           // inherits the master's stdin instead of /dev/null
	UID, GID     string
	Chdir        string
	Touch        []string // restart it when one of these files is touched
	NotifyPid    bool     // a smart daemon gets StopSignal on shutdown, ReloadSignal (or SIGHUP) on reload
	Line         string   // as written, the daemon's name
}

// DaemonList is every attach-daemon2 and smart-attach-daemon(2) entry.
func (t *Tasks) DaemonList() []Daemon {
	var out []Daemon
	for _, v := range t.AttachDaemon2 {
		d, _ := parseDaemon2(v)
		out = append(out, d)
	}
	for _, v := range t.SmartAttachDaemon {
		d, _ := parseSmartDaemon(v, false)
		out = append(out, d)
	}
	for _, v := range t.SmartAttachDaemon2 {
		d, _ := parseSmartDaemon(v, true)
		out = append(out, d)
	}
	return out
}

// parseSmartDaemon reads `PIDFILE[,FREQ] COMMAND`.
func parseSmartDaemon(v string, daemonize bool) (Daemon, error) {
	pidfile, command, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || strings.TrimSpace(command) == "" {
		return Daemon{}, fmt.Errorf("want PIDFILE COMMAND")
	}
	d := Daemon{Command: strings.TrimSpace(command), Pidfile: pidfile, Daemonize: daemonize, Freq: 10, StopSignal: syscall.SIGTERM, Line: v}
	if p, freq, ok := strings.Cut(pidfile, ","); ok {
		n, err := strconv.Atoi(freq)
		if err != nil || n < 1 {
			return d, fmt.Errorf("%q: the pidfile's ,FREQ must be a positive number", pidfile)
		}
		d.Pidfile, d.Freq = p, n
	}
	return d, nil
}

// parseDaemon2 reads attach-daemon2's key=value list.
func parseDaemon2(v string) (Daemon, error) {
	d := Daemon{Freq: 10, StopSignal: syscall.SIGTERM, Line: v}
	for _, kv := range splitKV(v) {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return d, fmt.Errorf("%q: want key=value", kv)
		}
		num := func() (int, error) {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("%s=%q is not a number", k, val)
			}
			return n, nil
		}
		var err error
		var n int
		switch k {
		case "command", "cmd", "exec":
			d.Command = val
		case "pidfile":
			d.Pidfile = val
		case "daemonize", "daemon":
			d.Daemonize = val != "0" && val != "false"
		case "freq":
			d.Freq, err = num()
		case "control":
			d.Control = val != "0" && val != "false"
		case "stopsignal", "stop_signal":
			n, err = num()
			d.StopSignal = syscall.Signal(n)
		case "reloadsignal", "reload_signal":
			n, err = num()
			d.ReloadSignal = syscall.Signal(n)
		case "stdin":
			d.Stdin = val != "0" && val != "false"
		case "uid":
			d.UID = val
		case "gid":
			d.GID = val
		case "chdir":
			d.Chdir = val
		case "touch":
			d.Touch = append(d.Touch, strings.Split(val, ";")...)
		case "notifypid":
			d.NotifyPid = val != "0" && val != "false"
		case "max_throttle":
			_, err = num() // the restart delay is supervise's backoff (1 s doubling, at most 30 s)
		case "ns_pid":
			return d, fmt.Errorf("refused: ns_pid runs the daemon in its own PID namespace, and supervise does not create namespaces, so it would run unisolated; isolate it with systemd (PrivatePIDs=) or a container")
		case "legion":
			return d, fmt.Errorf("refused: legion= runs the daemon only on a legion's lord, and supervise has no legions (it would run on every node)")
		default:
			return d, fmt.Errorf("unknown key %q (cmd, pidfile, daemonize, freq, control, stopsignal, reloadsignal, stdin, uid, gid, chdir, touch, notifypid)", k)
		}
		if err != nil {
			return d, err
		}
	}
	if d.Command == "" {
		return d, fmt.Errorf("no cmd= (the command to run)")
	}
	if d.Daemonize && d.Pidfile == "" {
		return d, fmt.Errorf("daemonize= needs pidfile= (supervise writes the daemon's pid there)")
	}
	if d.StopSignal <= 0 || d.StopSignal > 64 || d.ReloadSignal > 64 {
		return d, fmt.Errorf("a signal number must be 1..64")
	}
	return d, nil
}

// splitKV splits uWSGI's key=value list on commas; a backslash escapes
// the next character (cmd=sh -c 'a\, b').
func splitKV(s string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case s[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(s[i])
		}
	}
	return append(out, cur.String())
}

func addDaemon(field func(*Tasks) *[]string, parse func(string) (Daemon, error)) func(*loader, string) error {
	return func(l *loader, v string) error {
		if _, err := parse(v); err != nil {
			return err
		}
		p := field(&l.cfg.Tasks)
		*p = append(*p, v)
		return nil
	}
}
