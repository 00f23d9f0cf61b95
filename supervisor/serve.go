// Package supervisor is the wiring around the master's loop: it turns a
// configuration into plans (the launcher), binds the sockets, makes the
// runtime directory, pipes, scoreboard and log sink, builds the front
// end's configuration, and feeds the loop from signals, the notify
// socket, master FIFOs, touch-reload, systemd and the stats and health
// listeners. cmd/supervise calls Serve.
package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/socket"
	"github.com/supervise-go/supervise/stats"
)

// Options are what Serve needs beyond the configuration.
type Options struct {
	Log     hclog.Logger
	LogSink *LogSink // the master's log; workers write into it through a pipe
	Env     ipc.Env  // the inherited environment, read once
	// Reload re-reads the configuration (the same --ini and flags).
	Reload func() (*config.Config, error)
}

// Serve runs a master for cfg until it shuts down and returns the exit
// code: it binds the sockets once, starts the workers, and supervises them.
func Serve(cfg *config.Config, opt Options) int {
	// The master's work is small and mostly waiting; one P keeps the Go
	// scheduler from spinning threads on cores the workers need.
	if opt.Env.Get("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	s := &serving{cfg: cfg, opt: opt, log: opt.Log, calls: make(chan func()), stop: make(chan struct{})}
	s.self, _ = os.Executable() // before anyone replaces the file: an upgrade execs the path
	defer s.close()
	for _, n := range cfg.Notices {
		s.log.Warn(n)
	}
	for _, step := range []func() error{becomeSubreaper, s.hooksAsap, s.bind, s.hooksAsRoot, s.writePidfile, s.makeRuntime,
		s.startSignals, s.hooksApp, s.makeMaster, s.startHelpers, s.hooksMasterStart} {
		if err := step(); err != nil {
			s.log.Error(err.Error())
			return exitCode(err)
		}
	}
	code := runLoop(s.m, s.notify, s.calls, s.signalMap)
	s.hooksAtexit()
	return code
}

// serving is one master's wiring: what Serve builds, in order, and tears
// down in reverse.
type serving struct {
	trimMu   sync.Mutex // one trimMemory at a time
	cfg      *config.Config
	opt      Options
	log      hclog.Logger
	self     string
	upgraded *upgradeState
	sockets  *socketSet
	rt       *runtimeState
	notify   *ipc.NotifyListener
	m        *master.Master
	srv      *stats.Server
	health   *stats.Health
	sd       *systemd
	calls    chan func()
	stop     chan struct{}
	closers  []func()

	// hooks (supervisor/tasks.go)
	upgrading bool                    // started by an upgrade: no start phases
	running   bool                    // the loop runs: putenv no longer applies to reloads
	startEnv  []string                // putenv of the start phases, kept for reloads
	pending   *config.Config          // a reload's configuration, until its workers are ready
	current   *config.Config          // the configuration serving, after a reload
	signalMap map[syscall.Signal]byte // unix_signal: signal -> master FIFO command
}

func (s *serving) onClose(f func()) { s.closers = append(s.closers, f) }

func (s *serving) close() {
	close(s.stop)
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

func (s *serving) bind() error {
	var err error
	if s.upgraded, err = inheritedState(s.opt.Env); err != nil {
		return err
	}
	inherited := socket.FromEnv(s.opt.Env).Merge(s.upgraded.activated())
	private, err := withRouterBackend(s.cfg, s.workerIDs)
	if err != nil {
		return err
	}
	if private != "" {
		s.onClose(func() { os.RemoveAll(private) })
	}
	listeners, err := bindAll(s.cfg, inherited, s.workerIDs, s.log)
	if err != nil {
		return err
	}
	s.sockets = &socketSet{current: listeners, log: s.log}
	s.onClose(func() { closeAll(append(s.sockets.current, s.sockets.retiring...), s.cfg.Vacuum, s.log) })
	return nil
}

func (s *serving) writePidfile() error {
	if s.cfg.Pidfile == "" {
		return nil
	}
	if err := writePidfile(s.cfg.Pidfile); err != nil {
		return err
	}
	if s.cfg.Vacuum {
		s.onClose(func() { os.Remove(s.cfg.Pidfile) })
	}
	return nil
}

func (s *serving) makeRuntime() error {
	rt, notify, cleanup, err := newRuntime(s.cfg, s.opt.LogSink, s.upgraded)
	if err != nil {
		return err
	}
	s.rt, s.notify = rt, notify
	s.onClose(cleanup)
	if rt.bytecodeErr != nil {
		s.log.Warn("the Python processes compile their code again", "error", rt.bytecodeErr)
	}
	rt.API.logCaches(s.log)
	return nil
}

// makeMaster builds the loop with its hooks; after an upgrade it adopts
// the previous master's workers and starts replacing them.
func (s *serving) makeMaster() error {
	launcher, err := newLauncher(s.cfg, s.sockets.current, s.rt, s.opt.Env)
	if err != nil {
		return err
	}
	if len(s.cfg.Preload.Warmup) > 0 && launcher.zygotePlan() == nil {
		s.log.Warn("preload-warmup has no effect: every worker imports the app itself (lazy-apps, exec, asgi or gevent)")
	}
	s.sd = newSystemd(s.log, s.opt.Env)
	hooks := s.sd.hooks()
	ready := hooks.Ready
	hooks.Ready = func(gen int) {
		s.sockets.commit(s.cfg.Vacuum)
		ready(gen)
		time.AfterFunc(trimDelay, func() { s.trimMemory(gen) })
	}
	hooks.Upgrade = func(h master.Handover) { s.upgrade(upgradeState{Handover: h}) }
	s.wireTaskHooks(&hooks)
	hooks.StatsToLog = func(ws []stats.WorkerInfo) {
		c := &stats.Collector{Board: s.rt.Board, Sockets: socketInfos(s.sockets.current)}
		go s.srv.Guard(func() { logStats(c, ws, s.log) }) // not once the scoreboard is gone
	}
	hooks.ReopenLog = func() {
		if !s.opt.LogSink.isFile() {
			return
		}
		if err := s.opt.LogSink.reopen(); err != nil {
			s.log.Error("cannot reopen the log; still writing to the old file", "error", err)
			return
		}
		s.log.Info("log reopened")
	}
	s.m = master.New(s.log.Named("master"), realOS(), launcher.Plan(), s.reloadPlan, hooks)
	if s.cfg.Scoreboard {
		s.m.SetBoard(newBoardSlots(s.rt.Board))
	}
	s.srv = newStatsServer(s.cfg, s.sockets.current, s.rt.Board, statsSnapshot(s.rt, s.m, s.calls), s.log)
	s.srv.Collector.Services = serviceStats(s.rt) // spoolers and mules: services.go
	s.health = loopHealth(s.m, s.calls, liveTimeout)
	if s.cfg.StatsHTTP {
		s.srv.Health = s.health
	}
	s.onClose(s.srv.Close) // runs before makeRuntime's closer unmaps the scoreboard
	if s.upgraded != nil {
		s.m.Adopt(s.upgraded.Handover)
	}
	return nil
}

// workerIDs are the uid and gid the workers (and the front end) run as.
func (s *serving) workerIDs() (uid, gid int, ok bool) {
	cred, err := workerCredential(s.cfg.UID, s.cfg.GID)
	if err != nil || cred == nil {
		return 0, 0, false
	}
	return int(cred.Uid), int(cred.Gid), true
}

// reloadPlan re-reads the configuration for a reload: sockets added are
// bound now, the launcher checks the interpreter or program.
func (s *serving) reloadPlan() (*master.Plan, error) {
	next, err := s.opt.Reload()
	if err != nil {
		return nil, err
	}
	for _, n := range next.Notices {
		s.log.Warn(n)
	}
	if err := s.hooksReload(next); err != nil {
		return nil, err
	}
	if _, err := withRouterBackend(next, s.workerIDs); err != nil {
		return nil, err
	}
	ls, err := s.sockets.forConfig(next, s.workerIDs)
	if err != nil {
		return nil, err
	}
	l, err := newLauncher(next, ls, s.rt, s.opt.Env)
	if err != nil {
		return nil, err
	}
	s.sockets.switchTo(ls)
	s.srv.SetSockets(socketInfos(ls))
	return l.Plan(), nil
}

// upgrade execs the binary again with the workers' state (SIGUSR2).
func (s *serving) upgrade(st upgradeState) {
	for _, l := range s.sockets.current {
		st.Listeners = append(st.Listeners, int(l.File.Fd()))
	}
	s.rt.upgradeFDs(&st)
	s.sd.reloading()
	s.log.Info("upgrading in place: executing the binary again with the same pid", "binary", s.self)
	err := upgradeTo(s.self, s.opt.Env, st)
	s.log.Error("upgrade failed; this master keeps running", "error", err)
	s.sd.reloadFailed(s.m.Serving(), "upgrade: "+err.Error())
}

// startHelpers starts the goroutines that feed the loop: master FIFOs,
// touch-reload, the systemd watchdog and the stats server.
func (s *serving) startHelpers() error {
	for _, path := range s.cfg.MasterFIFO {
		f, err := openFIFO(path)
		if err != nil {
			return err
		}
		s.onClose(func() { f.Close(); os.Remove(path) })
		go readFIFO(f, s.calls, s.m, s.log)
	}
	if len(s.cfg.TouchReload) > 0 {
		go watchTouch(s.cfg.TouchReload, s.calls, s.m, s.log, s.stop)
	}
	s.sd.start(s.calls, s.stop)
	if err := s.startHealth(); err != nil {
		return err
	}
	if s.cfg.Stats == "" {
		return nil
	}
	sl, err := stats.Listen(s.cfg.Stats, s.log)
	if err != nil {
		return err
	}
	s.onClose(func() { sl.Close() })
	s.log.Info("stats server listening", "address", sl.Addr().String(), "http", s.cfg.StatsHTTP)
	go s.srv.Serve(sl)
	return nil
}

// startHealth serves /healthz and /readyz alone on the health option's
// address, for setups without an HTTP stats server.
func (s *serving) startHealth() error {
	if s.cfg.Health == "" {
		return nil
	}
	l, err := stats.ListenHealth(s.cfg.Health)
	if err != nil {
		return err
	}
	s.onClose(func() { l.Close() })
	s.log.Info("health probes listening", "address", l.Addr().String(), "liveness", stats.PathLive, "readiness", stats.PathReady)
	go (&stats.Server{Log: s.log.Named("health"), Health: s.health, HealthOnly: true}).Serve(l)
	return nil
}

func runLoop(m *master.Master, notify *ipc.NotifyListener, calls chan func(), remap map[syscall.Signal]byte) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGCHLD, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGIO)
	for sig := range remap {
		signal.Notify(sigs, sig)
	}
	defer signal.Stop(sigs)
	if len(remap) > 0 {
		sigs = remapSignals(sigs, remap, calls, m)
	}
	notes := make(chan ipc.Notification, 64)
	go func() {
		for {
			n, err := notify.Receive()
			if err != nil {
				return
			}
			notes <- n
		}
	}()
	return m.Run(sigs, notes, calls)
}

var errNoSocket = errors.New("no socket configured: add socket = /path/app.sock (uwsgi protocol, for nginx) or http-socket = 127.0.0.1:8000")

// bindAll binds every configured socket once, or adopts the one systemd
// passed for that address (socket activation).
func bindAll(cfg *config.Config, activated *socket.Activated, cred func() (uid, gid int, ok bool), log hclog.Logger) ([]*socket.Listener, error) {
	if len(cfg.Sockets) == 0 {
		return nil, errNoSocket
	}
	var out []*socket.Listener
	for _, s := range cfg.Sockets {
		if l := activated.Adopt(s.Addr, s.Proto); l != nil {
			log.Info("listening on an inherited socket (systemd, or the master before an upgrade)", "address", l.Addr(), "protocol", l.Proto)
			out = append(out, l)
			continue
		}
		l, err := socket.Bind(s.Addr, s.Proto, bindOptions(cfg, s, cred))
		if err != nil {
			closeAll(out, true, log)
			return nil, err
		}
		log.Info("listening", "address", l.Addr(), "protocol", l.Proto, "backlog", cfg.Listen)
		out = append(out, l)
	}
	for _, u := range activated.Unused() {
		log.Warn("closing a socket systemd passed that no socket option names", "socket", u)
	}
	return out, nil
}

func closeAll(ls []*socket.Listener, vacuum bool, log hclog.Logger) {
	for _, l := range ls {
		if err := l.Close(vacuum); err != nil {
			log.Warn("closing socket", "address", l.Name, "error", err)
		}
	}
}

// writePidfile replaces the pidfile in one rename: an upgraded master
// rewrites it while `supervise reload --pidfile` may be reading it, and a
// truncate-then-write would let that reader see an empty file.
func writePidfile(path string) error {
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil { // a directory we may not write to, a file we may: in place
		if err := os.WriteFile(path, pid, 0o644); err != nil {
			return fmt.Errorf("pidfile %s: %w", path, err)
		}
		return nil
	}
	_, err = f.Write(pid)
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	return nil
}
