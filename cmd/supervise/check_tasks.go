package main

import (
	"fmt"
	"io"

	"github.com/supervise-go/supervise/config"
)

// printTasks lists the hooks in the order the master runs them, the
// cron entries and the attached daemons, for `supervise check`.
func printTasks(w io.Writer, cfg *config.Config) {
	for _, phase := range []string{config.PhaseAsap, config.PhasePreJail, config.PhaseInJail, config.PhaseAsRoot, config.PhaseAsUser,
		config.PhasePreApp, config.PhaseMasterStart, config.PhaseAccepting, config.PhaseAccepting1, config.PhaseAcceptingOnce,
		config.Phase1Once, config.PhasePostApp, config.PhaseAtexit} {
		for _, h := range cfg.HookList(phase) {
			as := "master's user"
			if config.UserPhase(phase) && (cfg.UID != "" || cfg.GID != "") {
				as = "workers' user"
			}
			fmt.Fprintf(w, "hook:        %-15s %s (as the %s)\n", phase, h, as)
		}
	}
	for _, th := range cfg.TouchHooks() {
		fmt.Fprintf(w, "hook:        touch %s: %s\n", th.File, th.Hook)
	}
	for _, j := range cfg.CronJobs() {
		unique := ""
		if j.Unique {
			unique = ", unique"
		}
		fmt.Fprintf(w, "cron:        %s (harakiri %v%s)\n", j.Line, j.Harakiri, unique)
	}
	for _, d := range cfg.DaemonList() {
		kind := "daemon"
		if d.Pidfile != "" {
			kind = "smart daemon, pidfile " + d.Pidfile
		}
		fmt.Fprintf(w, "daemon:      %s (%s)\n", d.Command, kind)
	}
}
