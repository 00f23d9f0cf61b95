package master

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/socket"
	"github.com/supervise-go/supervise/stats"
)

// Options are what Serve needs beyond the configuration.
type Options struct {
	Log     hclog.Logger
	LogSink *LogSink // the master's log; workers write into it through a pipe
	Environ []string
	// Reload re-reads the configuration (the same --ini and flags).
	Reload func() (*config.Config, error)
}

// Serve runs a master for cfg until it shuts down and returns the exit
// code: it binds the sockets once, starts the workers, and supervises them.
func Serve(cfg *config.Config, opt Options) int {
	// The master's work is small and mostly waiting; one P keeps the Go
	// scheduler from spinning threads on cores the workers need.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	log := opt.Log
	for _, n := range cfg.Notices {
		log.Warn(n)
	}
	self, _ := os.Executable() // before anyone replaces the file: an upgrade execs the path
	upgraded, err := inheritedState(opt.Environ)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	listeners, err := bindAll(cfg, socket.FromEnvironment(opt.Environ).Merge(upgraded.activated()), log)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	sockets := &socketSet{current: listeners, log: log}
	defer func() { closeAll(append(sockets.current, sockets.retiring...), cfg.Vacuum, log) }()
	if cfg.Pidfile != "" {
		if err := writePidfile(cfg.Pidfile); err != nil {
			log.Error(err.Error())
			return 1
		}
		if cfg.Vacuum {
			defer os.Remove(cfg.Pidfile)
		}
	}
	rt, notify, cleanup, err := newRuntime(cfg, opt.LogSink, upgraded)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	defer cleanup()
	launcher, err := NewLauncher(cfg, listeners, rt, opt.Environ)
	if err != nil {
		log.Error(err.Error())
		return 1
	}
	var srv *stats.Server // the reload below tells it about socket changes
	reload := func() (*Plan, error) {
		next, err := opt.Reload()
		if err != nil {
			return nil, err
		}
		for _, n := range next.Notices {
			log.Warn(n)
		}
		ls, err := sockets.forConfig(next)
		if err != nil {
			return nil, err
		}
		l, err := NewLauncher(next, ls, rt, opt.Environ)
		if err != nil {
			return nil, err
		}
		sockets.switchTo(ls)
		srv.SetSockets(socketInfos(ls))
		return l.Plan(), nil
	}
	sd := newSystemd(opt.Environ, log)
	hooks := sd.hooks()
	ready := hooks.Ready
	hooks.Ready = func(gen int) {
		sockets.commit(cfg.Vacuum)
		ready(gen)
	}
	m := New(log.Named("master"), RealOS(), launcher.Plan(), reload, hooks)
	if cfg.Scoreboard {
		m.SetBoard(newBoardSlots(rt.Board))
	}
	if upgraded != nil {
		m.adopt(upgraded)
		m.reload(false, graceful)
	}
	m.hooks.Upgrade = func(workers []adoptedWorker, generation int) {
		st := upgradeState{Generation: generation, Workers: workers}
		for _, l := range sockets.current {
			st.Listeners = append(st.Listeners, int(l.File.Fd()))
		}
		rt.upgradeFDs(&st)
		hooks.Reloading()
		log.Info("upgrading in place: executing the binary again with the same pid", "binary", self)
		err := upgradeTo(self, st)
		log.Error("upgrade failed; this master keeps running", "error", err)
	}
	calls := make(chan func())
	srv = newStatsServer(cfg, listeners, rt.Board, loopSnapshot(m, calls), log)
	m.hooks.StatsToLog = func(ws []stats.WorkerInfo) {
		c := &stats.Collector{Board: rt.Board, Sockets: socketInfos(sockets.current)}
		go logStats(c, ws, log)
	}
	m.hooks.ReopenLog = func() {
		if err := opt.LogSink.Reopen(); err != nil {
			log.Error("cannot reopen the log; still writing to the old file", "error", err)
			return
		}
		log.Info("log reopened")
	}
	for _, path := range cfg.MasterFIFO {
		f, err := openFIFO(path)
		if err != nil {
			log.Error(err.Error())
			return 1
		}
		defer os.Remove(path)
		defer f.Close()
		go readFIFO(f, calls, m, log)
	}
	stop := make(chan struct{})
	defer close(stop)
	if len(cfg.TouchReload) > 0 {
		go watchTouch(cfg.TouchReload, calls, m, log, stop)
	}
	if every := sd.watchdogInterval(); every > 0 {
		go sd.pingWatchdog(every, calls, stop)
	}
	if cfg.Stats != "" {
		sl, err := stats.Listen(cfg.Stats, log)
		if err != nil {
			log.Error(err.Error())
			return 1
		}
		defer sl.Close()
		log.Info("stats server listening", "address", sl.Addr().String(), "http", cfg.StatsHTTP)
		go srv.Serve(sl)
	}
	return runLoop(m, notify, calls)
}

func runLoop(m *Master, notify *ipc.NotifyListener, calls chan func()) int {
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
		syscall.SIGCHLD, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU)
	defer signal.Stop(sigs)
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
func bindAll(cfg *config.Config, activated *socket.Activated, log hclog.Logger) ([]*socket.Listener, error) {
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
		l, err := socket.Bind(s.Addr, s.Proto, socket.Options{Backlog: cfg.Listen, Mode: cfg.ChmodSocket, Owner: cfg.ChownSocket})
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

func writePidfile(path string) error {
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("pidfile %s: %w", path, err)
	}
	return nil
}
