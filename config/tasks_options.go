package config

import (
	"strings"
	"time"
)

// The options of hooks, cron and attached daemons (config/tasks.go,
// cron.go, daemons2.go); the master runs them (supervisor/hooks.go,
// master/cron.go, master/daemons.go).

const (
	callRefusal   = "calls a C function of uWSGI's own binary by name (dlsym); supervise is not that binary and has none to call; run a program with exec-PHASE (or hook-PHASE = exec:...) instead"
	legionRefusal = "supervise has no legions (uWSGI's multicast clustering that elects one lord node); without them a lord-only daemon, cron or hook would run on every node at once, or never; run lord-only work from one machine, or with a cluster scheduler (a Kubernetes CronJob, a systemd timer on one node)"
	neverRuns     = "never runs: supervise is not an Emperor and runs no vassals (emperor itself is refused)"
)

var phaseHelp = map[string]string{
	PhaseAsap:          "first, before the sockets are bound, as the user supervise runs as; at start only",
	PhasePreJail:       "at first start, after asap (supervise has no jail; uWSGI runs it before jailing, and not on reloads)",
	PhaseInJail:        "after pre-jail, at start (supervise has no jail to be in)",
	PhaseAsRoot:        "after the sockets are bound, before anything runs as the workers' user; at start",
	PhaseAsUser:        "after as-root, as the workers' uid/gid (the master keeps root); at start",
	PhasePreApp:        "before the app loads: at start before the first workers, and before every reload's new workers (a failure then refuses the reload and the old workers keep serving); as the workers' user",
	PhasePostApp:       "once the app is loaded, when every worker of a generation is ready (start and reloads); as the workers' user",
	PhaseMasterStart:   "when the master's loop starts, after the first workers are started; unix_signal:15 gracefully_kill_them_all is what supervise does on SIGTERM already",
	PhaseAccepting:     "each time a worker is ready to accept (the master runs it for the worker, as the workers' user, and waits for it)",
	PhaseAccepting1:    "each time worker 1 is ready to accept",
	PhaseAcceptingOnce: "the first time each worker id is ready in this master's life",
	Phase1Once:         "the first time worker 1 is ready in this master's life",
	PhaseAtexit:        "when the master exits, after the workers stopped (not on reloads); failures are only logged",
}

func taskOptions() []Option {
	var out []Option
	for _, phase := range []string{PhaseAsap, PhasePreJail, PhaseInJail, PhaseAsRoot, PhaseAsUser, PhasePreApp, PhasePostApp, PhaseMasterStart, PhaseAccepting, PhaseAccepting1, PhaseAcceptingOnce, Phase1Once, PhaseAtexit} {
		fatal := "; a failing action stops the start (uWSGI: FATAL hook failed), or the master once running"
		if phase == PhaseAtexit {
			fatal = ""
		}
		out = append(out, works("hook-"+phase, nil, List, "", "ACTION:ARG run "+phaseHelp[phase]+fatal+" (actions: docs/options.md, Hooks)", addHook(phase)))
		if _, execs := (&Tasks{}).phaseFields(phase); execs != nil {
			out = append(out, works("exec-"+phase, nil, List, "", "a shell command run "+phaseHelp[phase]+" (after the hook- actions); a non-zero exit stops the start, as in uWSGI"+map[bool]string{true: " (here: only logged)"}[phase == PhaseAtexit], addExec(phase)))
		}
		if knownUWSGIOption("call-" + phase) {
			out = append(out, refused("call-"+phase, nil, List, callRefusal))
		}
	}
	out = append(out,
		works("hook-touch", nil, List, "", "FILE ACTION:ARG: run the action (as the workers' user) each time FILE's modification time changes (checked once a second); a failure is logged", addTouchHook),
		differs("hook-post-jail", nil, List, "never runs: uWSGI runs it only after jailing into a chroot or namespace, and supervise has no jail"),
		differs("exec-post-jail", nil, List, "never runs: uWSGI runs it only after jailing into a chroot or namespace, and supervise has no jail"),
		refused("call-post-jail", nil, List, callRefusal),

		works("cron", nil, List, "", "MINUTE HOUR DAY MONTH WEEKDAY COMMAND: the master runs COMMAND (/bin/sh -c, as the workers' user, output to the log) when the local time matches; numbers only, -1 any, -N every N (uWSGI's syntax)", addCron(func(t *Tasks) *[]string { return &t.Cron }, func(v string) error { _, err := parseCron(v); return err })),
		works("unique-cron", nil, List, "", "as cron, but not started again while the previous run is still going", addCron(func(t *Tasks) *[]string { return &t.UniqueCron }, func(v string) error { _, err := parseCron(v); return err })),
		works("cron2", nil, List, "", "[minute=N,hour=N,day=N,month=N,week=N,unique=1,harakiri=S] COMMAND: cron with keys (missing ones: any); harakiri=0 turns cron-harakiri off for it", addCron(func(t *Tasks) *[]string { return &t.Cron2 }, func(v string) error { _, _, err := parseCron2(v); return err })),
		works("cron-harakiri", nil, Seconds, "0", "kill a cron command (its process group) still running after this many seconds (0: never)", seconds(func(c *Config) *time.Duration { return &c.Tasks.CronHarakiri })),

		works("attach-daemon2", nil, List, "", "attach-daemon with keys: cmd=, pidfile= (smart), daemonize=, freq=, control= (its death stops the master), stopsignal=, reloadsignal= (sent on reload; it keeps running), stdin=, uid=, gid=, chdir=, touch= (restart on touch; ; separated), notifypid=; ns_pid and legion are refused", addDaemon(func(t *Tasks) *[]string { return &t.AttachDaemon2 }, parseDaemon2)),
		works("smart-attach-daemon", nil, List, "", "PIDFILE[,FREQ] COMMAND: a command that daemonizes itself and writes PIDFILE; started only when PIDFILE names no live process, restarted when it dies, left running across reloads and when the master exits", addDaemon(func(t *Tasks) *[]string { return &t.SmartAttachDaemon }, func(v string) (Daemon, error) { return parseSmartDaemon(v, false) })),
		works("smart-attach-daemon2", nil, List, "", "PIDFILE[,FREQ] COMMAND: as smart-attach-daemon for a command that stays in the foreground; supervise writes PIDFILE", addDaemon(func(t *Tasks) *[]string { return &t.SmartAttachDaemon2 }, func(v string) (Daemon, error) { return parseSmartDaemon(v, true) })),
	)
	for _, n := range []string{"hook-as-vassal", "hook-as-emperor", "hook-emperor-start", "hook-emperor-stop", "hook-emperor-reload", "hook-emperor-lost",
		"hook-as-on-demand-vassal", "hook-as-on-config-vassal", "hook-as-emperor-before-vassal", "hook-as-vassal-before-drop", "hook-as-emperor-setns",
		"exec-as-vassal", "exec-as-emperor", "call-as-vassal", "call-as-vassal1", "call-as-vassal3", "call-as-emperor", "call-as-emperor1", "call-as-emperor2", "call-as-emperor4"} {
		if knownUWSGIOption(n) {
			out = append(out, differs(n, nil, List, neverRuns))
		}
	}
	for _, u := range uwsgiOptions {
		if strings.HasPrefix(u.name, "legion") || strings.Contains(u.name, "-legion") {
			kind := String
			if u.arg != argRequired {
				kind = Bool
			}
			out = append(out, refused(u.name, nil, kind, legionRefusal))
		}
	}
	return out
}

func knownUWSGIOption(name string) bool {
	for _, u := range uwsgiOptions {
		if u.name == name {
			return true
		}
	}
	return false
}

var _ = addOptions(taskOptions()...)
