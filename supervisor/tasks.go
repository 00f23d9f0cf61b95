package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/master"
)

// crons are the cron entries: /bin/sh -c COMMAND, as the workers' user,
// in chdir, in a session of their own, output to the log (uWSGI runs
// them from the master the same way).
func (l *launcher) crons() []master.CronSpec {
	var out []master.CronSpec
	for _, j := range l.cfg.CronJobs() {
		out = append(out, master.CronSpec{Name: j.Line, Due: j.Matches, Unique: j.Unique, Harakiri: j.Harakiri,
			Spec: func() (*master.ProcSpec, error) {
				env := append(append([]string(nil), l.baseEnv...), l.cfg.Env...)
				return &master.ProcSpec{Path: "/bin/sh", Args: []string{"/bin/sh", "-c", j.Command}, Env: env, Dir: l.cfg.Chdir,
					Files: []*os.File{l.rt.Stdin, l.rt.Log, l.rt.Log}, Credential: l.cred, DeathSignal: syscall.SIGTERM, Setsid: true, Log: l.rt.logPipe()}, nil
			}})
	}
	return out
}

// hooks runs the configuration's hook phases; see config/tasks.go.
func (s *serving) hooks(cfg *config.Config) *hookRunner {
	cred, _ := workerCredential(cfg.UID, cfg.GID) // checked when the launcher is made
	return &hookRunner{log: s.log.Named("hook"), sink: s.opt.LogSink, cred: cred, dir: cfg.Chdir, base: workerBaseEnv(s.opt.Env),
		env: append(append([]string(nil), cfg.Env...), s.startEnv...),
		putenv: func(kv string) {
			cfg.Env = append(cfg.Env, kv)
			if !s.running {
				s.startEnv = append(s.startEnv, kv)
			}
		},
		signal: s.remapSignal}
}

// runPhases runs phases of cfg's hooks in order; the first failure ends them.
func (s *serving) runPhases(cfg *config.Config, phases ...string) error {
	var r *hookRunner // made only when a phase has hooks: workers become ready often
	for _, p := range phases {
		if hs := cfg.HookList(p); len(hs) > 0 {
			if r == nil {
				r = s.hooks(cfg)
			}
			if err := r.run(p, hs); err != nil {
				return err
			}
		}
	}
	return nil
}

// startHooks are the phases before the sockets are bound. An upgrade
// (the same master executing itself again) runs no start phase: the
// instance is already set up.
func (s *serving) hooksAsap() error {
	if st, _ := inheritedState(s.opt.Env); st != nil {
		s.upgrading = true
		return nil
	}
	return s.runPhases(s.cfg, config.PhaseAsap, config.PhasePreJail, config.PhaseInJail)
}

func (s *serving) hooksAsRoot() error {
	if s.upgrading {
		return nil
	}
	if err := s.runPhases(s.cfg, config.PhaseAsRoot); err != nil {
		return err
	}
	if _, err := workerCredential(s.cfg.UID, s.cfg.GID); err != nil {
		return err // as-user hooks would run as the wrong user
	}
	return nil
}

// hooksApp: as-user, then pre-app before the first workers start.
func (s *serving) hooksApp() error {
	if s.upgrading {
		return nil
	}
	return s.runPhases(s.cfg, config.PhaseAsUser, config.PhasePreApp)
}

func (s *serving) hooksMasterStart() error {
	s.running = true
	if th := s.cfg.TouchHooks(); len(th) > 0 {
		go s.watchHookTouch(th)
	}
	if s.upgrading {
		return nil
	}
	return s.runPhases(s.cfg, config.PhaseMasterStart)
}

// hooksAtexit runs as-user-atexit when the master exits (failures logged).
func (s *serving) hooksAtexit() {
	s.runPhases(s.appCfg(), config.PhaseAtexit)
}

// hooksReload runs pre-app for a reload's configuration; a failure
// refuses the reload and the old workers keep serving.
func (s *serving) hooksReload(next *config.Config) error {
	next.Env = append(next.Env, s.startEnv...)
	if err := s.runPhases(next, config.PhasePreApp); err != nil {
		return fmt.Errorf("pre-app hook failed: %w", err)
	}
	s.pending = next
	return nil
}

func (s *serving) appCfg() *config.Config {
	if s.current != nil {
		return s.current
	}
	return s.cfg
}

// wireTaskHooks adds post-app (when a generation is ready) and the
// accepting phases (each ready worker) to the loop's hooks.
func (s *serving) wireTaskHooks(h *master.Hooks) {
	ready := h.Ready
	h.Ready = func(gen int) {
		if s.pending != nil {
			s.current, s.pending = s.pending, nil
		}
		ready(gen)
		if err := s.runPhases(s.appCfg(), config.PhasePostApp); err != nil {
			if gen == 1 {
				s.m.Fail(exitCode(err), err.Error())
				return
			}
			s.log.Error("post-app hook failed after a reload; the new workers keep serving", "error", err)
		}
	}
	h.Accepting = func(id int, first bool) {
		phases := []string{config.PhaseAccepting}
		if id == 1 {
			phases = append(phases, config.PhaseAccepting1)
		}
		if first {
			phases = append(phases, config.PhaseAcceptingOnce)
			if id == 1 {
				phases = append(phases, config.Phase1Once)
			}
		}
		if err := s.runPhases(s.appCfg(), phases...); err != nil {
			s.m.Fail(exitCode(err), err.Error())
		}
	}
}

// remapSignal is unix_signal:N ACTION: the master does ACTION (a master
// FIFO command) on signal N instead of its own handling.
func (s *serving) remapSignal(sig syscall.Signal, command byte, name string) {
	if sig == syscall.SIGTERM && command == 'q' {
		s.log.Info("unix_signal: SIGTERM stops gracefully already", "function", name)
		return
	}
	if s.signalMap == nil {
		s.signalMap = map[syscall.Signal]byte{}
	}
	s.signalMap[sig] = command
	s.log.Info("unix_signal: the master's action for this signal changed", "signal", int(sig), "function", name)
}

// remapSignals passes the loop every signal but the remapped ones, which
// become the master FIFO command unix_signal named.
func remapSignals(in chan os.Signal, remap map[syscall.Signal]byte, calls chan<- func(), m *master.Master) chan os.Signal {
	out := make(chan os.Signal, cap(in))
	go func() {
		for sig := range in {
			if c, ok := remap[sig.(syscall.Signal)]; ok {
				calls <- func() { m.Command(c) }
				continue
			}
			out <- sig
		}
	}()
	return out
}

// attachDaemons2 are attach-daemon2 and smart-attach-daemon(2) entries: the
// command is exec'd by /bin/sh (so its pid is the daemon's), in a session
// of its own, as the workers' user unless uid=/gid= say otherwise.
func (l *launcher) attachDaemons2() ([]master.DaemonSpec, error) {
	var out []master.DaemonSpec
	for _, d := range l.cfg.DaemonList() {
		cred := l.cred
		if d.UID != "" || d.GID != "" {
			c, err := workerCredential(d.UID, d.GID)
			if err != nil {
				return nil, fmt.Errorf("attach-daemon2 %s: %w", d.Line, err)
			}
			cred = c
		}
		dir := l.cfg.Chdir
		if d.Chdir != "" {
			dir = d.Chdir
		}
		spec := master.DaemonSpec{Name: "daemon: " + d.Line, StopSignal: d.StopSignal, ReloadSignal: d.ReloadSignal, Group: true,
			Control: d.Control, Freq: d.Freq, NotifyPid: d.NotifyPid, Foreground: d.Daemonize}
		if len(d.Touch) > 0 {
			spec.Touched = touchWatcher(d.Touch)
		}
		var death syscall.Signal = syscall.SIGTERM
		if d.Pidfile != "" {
			pidfile := d.Pidfile
			spec.Pidfile = func() int { return livePidfile(pidfile) }
			death = 0 // it outlives the master
		}
		command, daemon := d.Command, d
		if d.Daemonize {
			spec.Started = func(pid int) error {
				return os.WriteFile(daemon.Pidfile, []byte(strconv.Itoa(pid)+"\n"), 0o644)
			}
		}
		spec.Spec = func() (*master.ProcSpec, error) {
			stdin := l.rt.Stdin
			if daemon.Stdin {
				stdin = os.Stdin
			}
			env := append(append([]string(nil), l.baseEnv...), l.cfg.Env...)
			return &master.ProcSpec{Path: "/bin/sh", Args: []string{"/bin/sh", "-c", "exec " + command}, Env: env, Dir: dir,
				Files: []*os.File{stdin, l.rt.Log, l.rt.Log}, Credential: cred, DeathSignal: death, Setsid: true, Log: l.rt.logPipe()}, nil
		}
		out = append(out, spec)
	}
	return out, nil
}

// livePidfile is the pid a pidfile names when that process is alive, or 0.
func livePidfile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return 0
	}
	return pid
}

// touchWatcher reports, once for each change, that one of the files'
// modification time changed since the last call.
func touchWatcher(files []string) func() bool {
	mtime := func(f string) time.Time {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}
		}
		return st.ModTime()
	}
	last := map[string]time.Time{}
	for _, f := range files {
		last[f] = mtime(f)
	}
	return func() bool {
		changed := false
		for _, f := range files {
			if t := mtime(f); !t.Equal(last[f]) {
				last[f], changed = t, true
			}
		}
		return changed
	}
}

// watchHookTouch runs hook-touch actions on the loop's goroutine each
// time their file's mtime changes (polled once a second, as touch-reload).
func (s *serving) watchHookTouch(hooks []config.TouchHook) {
	files := map[string]func() bool{}
	for _, th := range hooks {
		if files[th.File] == nil {
			files[th.File] = touchWatcher([]string{th.File})
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		var due []config.Hook
		for file, changed := range files {
			if !changed() {
				continue
			}
			for _, th := range hooks {
				if th.File == file {
					due = append(due, th.Hook)
				}
			}
		}
		if len(due) == 0 {
			continue
		}
		run := func() {
			if err := s.hooks(s.appCfg()).run(config.PhaseTouch, due); err != nil {
				s.log.Error("hook-touch failed", "error", err)
			}
		}
		select {
		case s.calls <- run:
		case <-s.stop:
			return
		}
	}
}
