package config

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Tasks are the commands the master runs besides workers: uWSGI's hooks
// (hook-PHASE, exec-PHASE), cron entries and attach-daemon2 /
// smart-attach-daemon daemons. The fields keep the values as written (so
// check and --ini-out print them by their option names); HookList,
// CronJobs and DaemonList read them, already checked when they were set.
type Tasks struct {
	HookAsap           []string
	ExecAsap           []string
	HookPreJail        []string
	ExecPreJail        []string
	HookInJail         []string
	ExecInJail         []string
	HookAsRoot         []string
	ExecAsRoot         []string
	HookAsUser         []string
	ExecAsUser         []string
	HookPreApp         []string
	ExecPreApp         []string
	HookPostApp        []string
	ExecPostApp        []string
	HookMasterStart    []string
	HookAccepting      []string
	HookAccepting1     []string
	HookAcceptingOnce  []string
	HookAccepting1Once []string
	HookAsUserAtexit   []string
	ExecAsUserAtexit   []string
	HookTouch          []string // FILE ACTION:ARG

	Cron               []string
	Cron2              []string
	UniqueCron         []string
	CronHarakiri       time.Duration
	AttachDaemon2      []string
	SmartAttachDaemon  []string
	SmartAttachDaemon2 []string
}

// Hook is one action of a phase: hook-PHASE = ACTION:ARG, or exec-PHASE =
// COMMAND (Action "exec").
type Hook struct {
	Phase, Action, Arg string
	Private            bool // written !ACTION:ARG: the log does not show it
}

func (h Hook) String() string {
	if h.Private {
		return "--- PRIVATE HOOK ---"
	}
	return h.Action + ":" + h.Arg
}

// Hook phases supervise runs, in the order of a start (accepting phases
// run as each worker becomes ready, as-user-atexit when the master exits).
const (
	PhaseAsap          = "asap"
	PhasePreJail       = "pre-jail"
	PhaseInJail        = "in-jail"
	PhaseAsRoot        = "as-root"
	PhaseAsUser        = "as-user"
	PhasePreApp        = "pre-app"
	PhasePostApp       = "post-app"
	PhaseMasterStart   = "master-start"
	PhaseAccepting     = "accepting"
	PhaseAccepting1    = "accepting1"
	PhaseAcceptingOnce = "accepting-once"
	Phase1Once         = "accepting1-once"
	PhaseAtexit        = "as-user-atexit"
	PhaseTouch         = "touch" // hook-touch: when FILE's mtime changes
)

// workerPhases run for a worker (in uWSGI, inside it): no master signal
// handler can be set from them.
var workerPhases = map[string]bool{PhaseAccepting: true, PhaseAccepting1: true, PhaseAcceptingOnce: true, Phase1Once: true}

// UserPhase is true for a phase that runs as the workers' user (uid/gid):
// uWSGI's master has dropped privileges by then.
func UserPhase(phase string) bool {
	return phase == PhaseAsUser || phase == PhasePreApp || phase == PhasePostApp || phase == PhaseMasterStart ||
		workerPhases[phase] || phase == PhaseAtexit || phase == PhaseTouch
}

// TouchHook is a hook-touch entry: Hook runs when File's mtime changes.
type TouchHook struct {
	File string
	Hook Hook
}

// TouchHooks are the hook-touch entries.
func (t *Tasks) TouchHooks() []TouchHook {
	var out []TouchHook
	for _, v := range t.HookTouch {
		th, _ := parseTouchHook(v)
		out = append(out, th)
	}
	return out
}

func parseTouchHook(v string) (TouchHook, error) {
	file, action, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok {
		return TouchHook{}, fmt.Errorf("want FILE ACTION:ARG")
	}
	h, err := parseHook(PhaseTouch, strings.TrimSpace(action))
	return TouchHook{File: file, Hook: h}, err
}

func addTouchHook(l *loader, v string) error {
	if _, err := parseTouchHook(v); err != nil {
		return err
	}
	l.cfg.Tasks.HookTouch = append(l.cfg.Tasks.HookTouch, v)
	return nil
}

// HookList is a phase's actions in uWSGI's order: every hook-PHASE, then
// every exec-PHASE.
func (t *Tasks) HookList(phase string) []Hook {
	var out []Hook
	hooks, execs := t.phaseFields(phase)
	if hooks != nil {
		for _, v := range *hooks {
			h, _ := parseHook(phase, v)
			out = append(out, h)
		}
	}
	if execs != nil {
		for _, v := range *execs {
			out = append(out, Hook{Phase: phase, Action: "exec", Arg: v})
		}
	}
	return out
}

func (t *Tasks) phaseFields(phase string) (hooks, execs *[]string) {
	switch phase {
	case PhaseAsap:
		return &t.HookAsap, &t.ExecAsap
	case PhasePreJail:
		return &t.HookPreJail, &t.ExecPreJail
	case PhaseInJail:
		return &t.HookInJail, &t.ExecInJail
	case PhaseAsRoot:
		return &t.HookAsRoot, &t.ExecAsRoot
	case PhaseAsUser:
		return &t.HookAsUser, &t.ExecAsUser
	case PhasePreApp:
		return &t.HookPreApp, &t.ExecPreApp
	case PhasePostApp:
		return &t.HookPostApp, &t.ExecPostApp
	case PhaseMasterStart:
		return &t.HookMasterStart, nil
	case PhaseAccepting:
		return &t.HookAccepting, nil
	case PhaseAccepting1:
		return &t.HookAccepting1, nil
	case PhaseAcceptingOnce:
		return &t.HookAcceptingOnce, nil
	case Phase1Once:
		return &t.HookAccepting1Once, nil
	case PhaseAtexit:
		return &t.HookAsUserAtexit, &t.ExecAsUserAtexit
	}
	return nil, nil
}

// hookActions are uWSGI's base hook actions that supervise runs.
var hookActions = map[string]string{
	"exec": "run the command with /bin/sh -c; a non-zero exit fails the phase", "safeexec": "as exec, a failure is only logged",
	"mkdir": "mkdir DIR", "chmod": "chmod FILE MODE (octal)", "chown": "chown FILE USER GROUP (names)", "chown2": "chown FILE UID GID (numbers)",
	"sticky": "set the sticky bit of FILE", "create": "create FILE empty", "creat": "create FILE empty",
	"write": "write FILE TEXT (truncate)", "writen": "as write, plus a newline", "append": "append FILE TEXT", "appendn": "append FILE TEXT and a newline",
	"writefifo": "write TEXT to the FIFO FILE without blocking (nobody reading: skipped)", "unlink": "remove FILE",
	"cd": "change the master's directory", "chdir": "change the master's directory", "putenv": "set KEY=VALUE for the hooks after it, the workers and the daemons",
	"print": "log TEXT", "log": "log TEXT", "exit": "stop the start with exit code N",
	"unix_signal": "SIGNUM FUNCTION: what the master does on that signal (gracefully_kill_them_all, kill_them_all, grace_them_all, reap_them_all)",
	"wait_for_fs": "wait (up to 60 s) until PATH exists", "wait_for_file": "wait until the file exists", "wait_for_dir": "wait until the directory exists",
	"wait_for_socket": "wait until the unix or TCP socket accepts connections",
}

// refusedActions cannot run here; the reason says what to do instead.
var refusedActions = map[string]string{
	"call":         "calls a C function of uWSGI's own binary by name (dlsym); supervise has none to call: run a program with exec: instead",
	"callret":      "calls a C function of uWSGI's own binary by name (dlsym); supervise has none to call: run a program with exec: instead",
	"callint":      "calls a C function of uWSGI's own binary by name (dlsym); supervise has none to call: run a program with exec: instead",
	"callintret":   "calls a C function of uWSGI's own binary by name (dlsym); supervise has none to call: run a program with exec: instead",
	"mount":        "supervise does not create mount namespaces, and mounting in the host's would change the whole machine; mount with systemd (BindPaths=, TemporaryFileSystem=) or the container",
	"umount":       "supervise does not create mount namespaces, and unmounting in the host's would change the whole machine",
	"hostname":     "supervise has no UTS namespace, so this would rename the whole machine; set it in the container or with systemd",
	"alarm":        "supervise has no uWSGI alarms; use exec: with a command that sends the alert",
	"rpc":          "supervise has no uWSGI RPC; use exec: with a command that calls the service",
	"retryrpc":     "supervise has no uWSGI RPC; use exec: with a command that calls the service",
	"spinningfifo": "waits forever for a FIFO reader; use writefifo: (skipped when nobody reads) or exec:",
}

// UnixSignalActions are the uWSGI master functions unix_signal may name,
// and the master FIFO command each one is.
var UnixSignalActions = map[string]byte{
	"gracefully_kill_them_all": 'q', // graceful shutdown
	"kill_them_all":            'Q', // immediate shutdown
	"grace_them_all":           'r', // graceful reload
	"reap_them_all":            'R', // brutal reload
	"uwsgi_reload":             'r',
}

// parseHook reads ACTION:ARG (a leading ! hides it from the log).
func parseHook(phase, v string) (Hook, error) {
	action, arg, ok := strings.Cut(v, ":")
	if !ok {
		return Hook{}, fmt.Errorf("want ACTION:ARGUMENT, for example exec:/usr/local/bin/prepare or mkdir:/run/app")
	}
	h := Hook{Phase: phase, Action: strings.TrimSpace(action), Arg: arg}
	if strings.HasPrefix(h.Action, "!") {
		h.Action, h.Private = h.Action[1:], true
	}
	if why, bad := refusedActions[h.Action]; bad {
		return h, fmt.Errorf("refused: the %s action %s", h.Action, why)
	}
	if _, ok := hookActions[h.Action]; !ok {
		return h, fmt.Errorf("unknown hook action %q (uWSGI's that supervise runs: %s)", h.Action, strings.Join(hookActionNames(), ", "))
	}
	return h, checkHookArg(h)
}

func hookActionNames() []string {
	var out []string
	for _, n := range []string{"exec", "safeexec", "mkdir", "chmod", "chown", "chown2", "sticky", "create", "write", "writen", "append", "appendn", "writefifo", "unlink", "cd", "putenv", "print", "exit", "unix_signal", "wait_for_fs", "wait_for_file", "wait_for_dir", "wait_for_socket"} {
		out = append(out, n)
	}
	return out
}

// checkHookArg finds what uWSGI would only find when the hook runs.
func checkHookArg(h Hook) error {
	fields := strings.Fields(h.Arg)
	need := map[string]int{"chmod": 2, "chown": 3, "chown2": 3, "unix_signal": 2}
	if n := need[h.Action]; len(fields) < n {
		return fmt.Errorf("%s needs %d arguments separated by spaces: %s", h.Action, n, hookActions[h.Action])
	}
	switch h.Action {
	case "write", "writen", "append", "writefifo":
		if !strings.Contains(h.Arg, " ") || strings.HasPrefix(h.Arg, " ") {
			return fmt.Errorf("%s: want FILE TEXT (%s)", h.Action, hookActions[h.Action])
		}
	}
	switch h.Action {
	case "chmod":
		if _, err := strconv.ParseUint(fields[1], 8, 32); err != nil {
			return fmt.Errorf("chmod: %q is not an octal mode like 755", fields[1])
		}
	case "chown2":
		for _, f := range fields[1:3] {
			if _, err := strconv.Atoi(f); err != nil {
				return fmt.Errorf("chown2: uid and gid must be numbers (chown takes names)")
			}
		}
	case "exit":
		if s := strings.TrimSpace(h.Arg); s != "" {
			if _, err := strconv.Atoi(s); err != nil {
				return fmt.Errorf("exit: %q is not an exit code", s)
			}
		}
	case "unix_signal":
		if _, err := strconv.Atoi(fields[0]); err != nil || !signalNumberOK(fields[0]) {
			return fmt.Errorf("unix_signal: %q is not a signal number", fields[0])
		}
		if _, ok := UnixSignalActions[fields[1]]; !ok {
			return fmt.Errorf("refused: unix_signal: supervise runs none of uWSGI's C functions, only the master's actions gracefully_kill_them_all, kill_them_all, grace_them_all, reap_them_all (got %q)", fields[1])
		}
		if workerPhases[h.Phase] {
			return fmt.Errorf("unix_signal in a worker phase would set a handler inside a worker; supervise's workers keep their own signals (use hook-master-start)")
		}
		if n, _ := strconv.Atoi(fields[0]); syscall.Signal(n) == syscall.SIGCHLD || syscall.Signal(n) == syscall.SIGKILL || syscall.Signal(n) == syscall.SIGSTOP {
			return fmt.Errorf("unix_signal: signal %d cannot be given to an action", n)
		}
	case "exec", "safeexec", "mkdir", "unlink", "cd", "chdir", "sticky", "create", "creat", "wait_for_fs", "wait_for_file", "wait_for_dir", "wait_for_socket":
		if strings.TrimSpace(h.Arg) == "" {
			return fmt.Errorf("%s needs an argument", h.Action)
		}
	case "putenv":
		if k, _, ok := strings.Cut(h.Arg, "="); !ok || k == "" {
			return fmt.Errorf("putenv: want KEY=VALUE")
		}
	}
	return nil
}

func signalNumberOK(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65
}

// addHook checks a hook-PHASE value and keeps it.
func addHook(phase string) func(*loader, string) error {
	return func(l *loader, v string) error {
		if _, err := parseHook(phase, v); err != nil {
			return err
		}
		hooks, _ := l.cfg.Tasks.phaseFields(phase)
		*hooks = append(*hooks, v)
		return nil
	}
}

// addExec keeps an exec-PHASE command.
func addExec(phase string) func(*loader, string) error {
	return func(l *loader, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty command")
		}
		_, execs := l.cfg.Tasks.phaseFields(phase)
		*execs = append(*execs, v)
		return nil
	}
}
