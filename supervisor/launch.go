package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/socket"
)

// launcher turns a configuration into worker processes: the command, the
// inherited files and the contract's environment (package ipc).
type launcher struct {
	cfg        *config.Config
	listeners  []*socket.Listener
	rt         *runtimeState
	path       string   // the program to exec
	args       []string // its argv
	baseEnv    []string
	workerFile string
	cred       *syscall.Credential
	routers    []*socket.Listener   // the front end's sockets (never the workers')
	daemons2   []master.DaemonSpec  // attach-daemon2, smart-attach-daemon (supervisor/tasks.go)
	tls        map[string][2]string // https front end address -> cert, key
	svc        *servicePlan         // spooler processes and mules (services.go)
}

// newLauncher resolves the interpreter or binary now, so a wrong path is
// an error at start or reload rather than a respawn loop.
func newLauncher(cfg *config.Config, listeners []*socket.Listener, rt *runtimeState, env ipc.Env) (*launcher, error) {
	l := &launcher{cfg: cfg, rt: rt, baseEnv: workerBaseEnv(env), tls: map[string][2]string{}}
	l.listeners, l.routers = splitRouters(listeners)
	for _, r := range cfg.Routers() {
		l.tls[r.Addr] = [2]string{r.Cert, r.Key}
	}
	cred, err := workerCredential(cfg.UID, cfg.GID)
	if err != nil {
		return nil, err
	}
	l.cred = cred
	if l.daemons2, err = l.attachDaemons2(); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := rt.shareWith(int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if len(cfg.Exec) > 0 {
		path, err := resolveProgram(cfg.Exec[0])
		if err != nil {
			return nil, fmt.Errorf("exec %q: %w", cfg.Exec[0], err)
		}
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("exec: cannot find supervise's own binary for the LISTEN_PID trampoline: %w", err)
		}
		l.path = self
		l.args = append([]string{self, TrampolineArg, path}, cfg.Exec...)
		return l, nil
	}
	python, err := pythonInterpreter(cfg)
	if err != nil {
		return nil, err
	}
	l.path = python
	l.args = rt.pythonArgs(python)
	if err := l.planServices(); err != nil { // services.go
		return nil, err
	}
	return l, nil
}

// Plan is the master's view of this configuration.
func (l *launcher) Plan() *master.Plan {
	return &master.Plan{
		Processes:     l.cfg.Processes,
		Mercy:         l.cfg.WorkerReloadMercy,
		NeedApp:       l.cfg.NeedApp,
		ShutdownDelay: l.cfg.ShutdownDelay,
		Spec:          l.Spec,
		ReadyTimeout: func() time.Duration {
			if len(l.cfg.Exec) > 0 {
				return l.cfg.ReadyTimeout
			}
			return 0 // the Python worker always notifies
		}(),
		Chdir:            l.cfg.Chdir,
		Harakiri:         l.cfg.Harakiri,
		MaxRequests:      l.cfg.MaxRequests,
		MaxRequestsDelta: l.cfg.MaxRequestsDelta,
		HarakiriGrace:    l.cfg.HarakiriGracefulTimeout,
		HarakiriSignal:   l.cfg.HarakiriGracefulSignal,
		ReloadOnRSS:      uint64(l.cfg.ReloadOnRSS) << 20,
		EvilReloadOnRSS:  uint64(l.cfg.EvilReloadOnRSS) << 20,
		MinLifetime:      l.cfg.MinWorkerLifetime,
		Cheaper: master.CheaperPlan{
			Min: l.cfg.Cheaper, Initial: l.cfg.CheaperInitial, Step: l.cfg.CheaperStep,
			Algo: l.cfg.CheaperAlgo, Overload: l.cfg.CheaperOverload,
			BusynessMax: l.cfg.CheaperBusynessMax, BusynessMin: l.cfg.CheaperBusynessMin,
			Multiplier: l.cfg.CheaperMultiplier, Backlog: l.backlog,
		},
		Daemons:   append(append(append(l.daemons(), l.daemons2...), l.routerDaemon(l.self())...), l.serviceDaemons()...),
		Crons:     l.crons(),
		Zygote:    l.zygotePlan(),
		ForkWidth: l.cfg.ReloadForkWidth,
	}
}

// zygotePlan is how a generation's zygote starts, or nil when every
// worker imports the app itself: lazy-apps, and exec workers.
func (l *launcher) zygotePlan() func(master.ZygoteInfo) (*master.ProcSpec, master.Forker, error) {
	if len(l.cfg.Exec) > 0 || l.cfg.LazyApps {
		return nil
	}
	if l.cfg.ASGI != "" || l.cfg.Gevent > 0 {
		return nil // asgi.py and gevent_loop.py import the app in each worker (docs/async.md)
	}
	return l.Zygote
}

// self is this binary, which also runs the front end.
func (l *launcher) self() string {
	if path, err := os.Executable(); err == nil {
		return path
	}
	return os.Args[0]
}

// daemons are the attach-daemon commands, run by /bin/sh as in uWSGI, in
// chdir, as the workers' user, logging into the master's log; each gets
// SIGTERM if the master dies.
func (l *launcher) daemons() []master.DaemonSpec {
	var out []master.DaemonSpec
	for _, cmd := range l.cfg.AttachDaemon {
		out = append(out, master.DaemonSpec{Name: cmd, Spec: func() (*master.ProcSpec, error) {
			env := append(append([]string(nil), l.baseEnv...), l.cfg.Env...)
			return &master.ProcSpec{Path: "/bin/sh", Args: []string{"/bin/sh", "-c", cmd}, Env: env, Dir: l.cfg.Chdir,
				Files: []*os.File{l.rt.Stdin, l.rt.Log, l.rt.Log}, Credential: l.cred, DeathSignal: syscall.SIGTERM, Log: l.rt.logPipe()}, nil
		}})
	}
	return out
}

// backlog is the connections waiting in the workers' listen queues, for
// cheaper-algo = backlog.
func (l *launcher) backlog() int {
	total := 0
	for _, ln := range l.listeners {
		if q, _, err := ln.Queue(); err == nil {
			total += q
		}
	}
	return total
}

// Spec is the process for one worker.
func (l *launcher) Spec(w master.SpawnInfo) (*master.ProcSpec, error) {
	files := []*os.File{l.rt.Stdin, l.rt.Log, l.rt.Log}
	names := make([]string, len(l.listeners))
	for i, ln := range l.listeners {
		files = append(files, ln.File)
		names[i] = ln.Proto
	}
	lifelineFD := len(files)
	files = append(files, l.rt.Lifeline)
	boardFD := len(files)
	if w.BoardSlot >= 0 {
		files = append(files, l.rt.Board.File)
	}
	locksFD := len(files)
	if len(l.cfg.Exec) == 0 {
		files = append(files, l.rt.Locks)
	}
	cachesFD := len(files)
	if len(l.cfg.Exec) == 0 && l.rt.API != nil {
		files = append(files, l.rt.API.caches...)
	}
	env := append([]string(nil), l.baseEnv...)
	env = append(env, l.cfg.Env...)
	env = append(env,
		ipc.EnvListenFDs+"="+strconv.Itoa(len(l.listeners)),
		ipc.EnvListenFDNames+"="+strings.Join(names, ":"),
		ipc.EnvNotifySocket+"="+l.rt.Notify,
		ipc.EnvWorkerID+"="+strconv.Itoa(w.ID),
		ipc.EnvGeneration+"="+strconv.Itoa(w.Generation),
		ipc.EnvThreads+"="+strconv.Itoa(l.cfg.Cores()),
		ipc.EnvLifelineFD+"="+strconv.Itoa(lifelineFD),
		ipc.EnvMasterPID+"="+strconv.Itoa(l.rt.MasterPID),
		ipc.EnvBufferSize+"="+strconv.Itoa(l.cfg.BufferSize),
		ipc.EnvSocketTimeoutMS+"="+strconv.FormatInt(l.cfg.SocketTimeout.Milliseconds(), 10),
		ipc.EnvMaxVars+"="+strconv.Itoa(l.cfg.MaxVars),
	)
	if l.cfg.NeedApp || w.Reloading {
		// A reload's new worker that cannot load its app exits 22, which
		// aborts the reload; at first start and on respawns a Python worker
		// without need-app answers 500 instead (uWSGI's behaviour).
		env = append(env, ipc.EnvNeedApp+"=1")
	}
	if w.BoardSlot >= 0 {
		env = append(env, ipc.EnvScoreboardFD+"="+strconv.Itoa(boardFD), ipc.EnvScoreboardIdx+"="+strconv.Itoa(w.BoardSlot))
	}
	if l.cfg.DisableLogging {
		env = append(env, ipc.EnvDisableLogging+"=1")
		if only := l.cfg.LogOnly.Env(); only != "" {
			env = append(env, ipc.EnvLogOnly+"="+only)
		}
	}
	if l.cfg.LogJSON {
		env = append(env, ipc.EnvLogJSON+"=1")
	}
	if l.cfg.ReqLog.On() {
		env = append(env, ipc.EnvReqLog+"=1") // request lines marked for the request loggers (reqlog.go)
	}
	if l.cfg.LogXFF {
		env = append(env, ipc.EnvLogXFF+"=1")
	}
	if l.cfg.LogFormat != "" {
		env = append(env, ipc.EnvLogFormat+"="+l.cfg.LogFormat)
		if l.cfg.LogFormatStrftime && l.cfg.LogStrftime != "" {
			env = append(env, ipc.EnvLogStrftime+"="+l.cfg.LogStrftime)
		}
	}
	if len(l.cfg.Exec) == 0 {
		env = append(env, l.uwsgiModuleEnv(locksFD)...)
		if l.rt.API != nil {
			env = append(env, l.rt.API.env(cachesFD)...)
		}
	}
	env = append(env, l.pythonEnv()...)
	if l.cfg.PyAutoreload > 0 && w.ID == 1 && len(l.cfg.Exec) == 0 {
		env = append(env, ipc.EnvPyAutoreload+"="+strconv.Itoa(l.cfg.PyAutoreload)) // one watcher is enough
	}
	files, env, err := l.withServices(files, env) // services.go
	if err != nil {
		return nil, err
	}
	return &master.ProcSpec{Path: l.path, Args: l.args, Env: env, Dir: l.cfg.Chdir, Files: files, Credential: l.cred, Log: l.rt.logPipe(), Fork: w.Zygote}, nil
}

// uwsgiModuleEnv is what the Python worker's uwsgi module reads:
// uwsgi.opt, numproc, started_on and the locks (ipc.EnvUwsgiOpt ...).
func (l *launcher) uwsgiModuleEnv(locksFD int) []string {
	return append(UwsgiModuleEnv(l.cfg, l.rt.Started),
		ipc.EnvLocksFD+"="+strconv.Itoa(locksFD),
		ipc.EnvLocks+"="+strconv.Itoa(l.cfg.Locks),
		ipc.EnvSignalSocket+"="+l.rt.Signals,
	)
}

// UwsgiModuleEnv is the uwsgi module's view of cfg (uwsgi.opt,
// magic_table, numproc, started_on), without the locks a master passes:
// `supervise check` imports the app with it, so `import uwsgi` and
// uwsgidecorators load there as in a worker.
func UwsgiModuleEnv(cfg *config.Config, started time.Time) []string {
	opt := make([][2]any, len(cfg.Opt))
	for i, o := range cfg.Opt {
		opt[i] = [2]any{o.Key, o.Value}
		if o.Flag {
			opt[i][1] = nil
		}
	}
	js, _ := json.Marshal(opt) // strings only: cannot fail
	magic, _ := json.Marshal(cfg.Magic)
	return []string{
		ipc.EnvUwsgiOpt + "=" + string(js),
		ipc.EnvMagicTable + "=" + string(magic),
		ipc.EnvProcesses + "=" + strconv.Itoa(cfg.Processes),
		ipc.EnvStartedOn + "=" + strconv.FormatInt(started.Unix(), 10),
	}
}

func (l *launcher) pythonEnv() []string {
	if len(l.cfg.Exec) > 0 {
		return nil
	}
	env := []string{
		ipc.EnvPyModule + "=" + l.cfg.Module,
		ipc.EnvPyCallable + "=" + l.cfg.Callable,
		ipc.EnvPyWSGIFile + "=" + l.cfg.WSGIFile,
		ipc.EnvPyPythonPath + "=" + strings.Join(l.cfg.PythonPath, ":"),
	}
	if len(l.cfg.Mounts) > 0 {
		env = append(env, ipc.EnvPyMounts+"="+strings.Join(l.cfg.Mounts, "\n"))
	}
	if l.cfg.ManageScriptName {
		env = append(env, ipc.EnvPyManageScriptName+"=1")
	}
	env = append(env, asyncEnv(l.cfg)...)
	if len(l.cfg.Static) > 0 {
		env = append(env, ipc.EnvStatic+"="+strings.Join(l.cfg.Static, "\n"))
	}
	if l.cfg.Home != "" {
		env = append(env, "VIRTUAL_ENV="+l.cfg.Home)
	} else if l.cfg.PythonBin == "" {
		env = append(env, ipc.EnvPyFromPath+"=1") // an import failure then names the interpreter and the options
	}
	return env
}

// workerBaseEnv is the master's environment without what describes the
// master itself (systemd's sockets and notify socket, our own contract).
func workerBaseEnv(env ipc.Env) []string {
	return env.Filter(func(name string) bool {
		return name == ipc.EnvNotifySocket || strings.HasPrefix(name, "LISTEN_") ||
			strings.HasPrefix(name, "SUPERVISE_") || name == "WATCHDOG_USEC" || name == "WATCHDOG_PID"
	})
}

// pythonInterpreter picks python-bin, else the virtualenv's python, else
// python3 on PATH.
func pythonInterpreter(cfg *config.Config) (string, error) {
	if cfg.PythonBin != "" {
		p, err := resolveProgram(cfg.PythonBin)
		if err != nil {
			return "", fmt.Errorf("python-bin %q: %w", cfg.PythonBin, err)
		}
		return p, nil
	}
	if cfg.Home != "" {
		for _, name := range []string{"python3", "python"} {
			p := filepath.Join(cfg.Home, "bin", name)
			if isExecutable(p) {
				return p, nil
			}
		}
		return "", fmt.Errorf("home %q: no bin/python3 or bin/python in it; point home (virtualenv) at a virtualenv or set python-bin", cfg.Home)
	}
	p, err := exec.LookPath("python3")
	if err != nil {
		return "", errors.New("python3 is not on PATH: install python3, or set home (virtualenv) or python-bin")
	}
	return filepath.Abs(p)
}

func resolveProgram(name string) (string, error) {
	if strings.Contains(name, "/") {
		p, err := filepath.Abs(name)
		if err != nil {
			return "", err
		}
		if !isExecutable(p) {
			return "", fmt.Errorf("%s is missing or not executable", p)
		}
		return p, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("not found on PATH")
	}
	return filepath.Abs(p)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// CheckProgram resolves what a worker of cfg would run (the Python
// interpreter or the exec program) and the uid/gid, without starting
// anything; `supervise check` reports it.
func CheckProgram(cfg *config.Config) (string, error) {
	if _, err := workerCredential(cfg.UID, cfg.GID); err != nil {
		return "", err
	}
	if len(cfg.Exec) > 0 {
		p, err := resolveProgram(cfg.Exec[0])
		if err != nil {
			return "", fmt.Errorf("exec %q: %w", cfg.Exec[0], err)
		}
		return p, nil
	}
	return pythonInterpreter(cfg)
}
