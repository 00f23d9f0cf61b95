package supervisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
	"github.com/supervise-go/supervise/socket"
)

// The HTTP front end (http = ADDR, https = ADDR,CERT,KEY) is a daemon:
// `supervise http` run from this binary. The master binds its sockets,
// like the workers', so they survive a front-end restart, a reload and an
// upgrade, and privileged ports work while the front end runs as the
// workers' user. It forwards to the first uwsgi socket, or http-to, or a
// private unix socket the master adds when the configuration has none.

// privateBackendDir holds the private socket. It is named by the
// master's pid, so reloads and in-place upgrades (same pid) find it again.
func privateBackendDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("supervise-http-%d", os.Getpid()))
}

// privateBackendSocket is the private socket's path.
func privateBackendSocket() string { return filepath.Join(privateBackendDir(), "uwsgi.sock") }

// withRouterBackend adds the private uwsgi socket when the front end has
// nothing to forward to, and returns its directory ("" when none).
func withRouterBackend(cfg *config.Config, cred func() (uid, gid int, ok bool)) (string, error) {
	if len(cfg.Routers()) == 0 || len(cfg.Router.HTTPTo) > 0 || firstUwsgi(cfg.Sockets) != "" {
		return "", nil
	}
	dir := privateBackendDir()
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("front end: private socket directory: %w", err)
	}
	if uid, gid, ok := cred(); ok { // the front end runs as the workers' user
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", fmt.Errorf("front end: private socket directory: %w", err)
		}
	}
	cfg.Sockets = append(cfg.Sockets, config.Socket{Addr: privateBackendSocket(), Proto: "uwsgi"})
	return dir, nil
}

func firstUwsgi(sockets []config.Socket) string {
	for _, s := range sockets {
		if s.Proto == "uwsgi" {
			return s.Addr
		}
	}
	return ""
}

// splitRouters separates the workers' listeners from the front end's.
func splitRouters(ls []*socket.Listener) (workers, routers []*socket.Listener) {
	for _, l := range ls {
		if config.IsRouter(l.Proto) {
			routers = append(routers, l)
		} else {
			workers = append(workers, l)
		}
	}
	return workers, routers
}

// frontEnd is the front end's configuration: its sockets are the fds
// from FirstListenFD on, in the order of routers.
func (l *launcher) frontEnd() ipc.FrontEnd {
	rc := l.cfg.Router
	fe := ipc.FrontEnd{
		Backends: l.backends(), StaticMaps: rc.StaticMap, StaticSafe: rc.StaticSafe,
		PostBuffering: int64(max(rc.PostBuffering, 0)), LimitPost: int64(max(rc.LimitPost, 0)),
		BackendTimeout: rc.HTTPTimeout, BufferSize: l.cfg.BufferSize, ShutdownTimeout: l.cfg.WorkerReloadMercy,
		DocumentRoot:   l.cfg.Chdir,
		DisableLogging: true, // the workers log each request already
	}
	if rc.Processes > 0 {
		fe.Loops = 1 // http-processes: as many processes, one loop each (routerDaemon)
	}
	for i, r := range l.routers {
		fl := ipc.FrontListener{FD: ipc.FirstListenFD + i}
		if r.Proto == config.ProtoHTTPSRouter {
			fl.Cert, fl.Key = l.tls[r.Name][0], l.tls[r.Name][1]
		}
		fe.Listeners = append(fe.Listeners, fl)
	}
	return fe
}

// routerDaemon is the front end's processes: `supervise http` with its
// configuration in ipc.EnvFrontEnd, one by default, http-processes = N
// of them as uWSGI's router processes are. Each inherits every front-end
// socket, so they share each socket's accept queue: a new connection
// wakes every process (one event loop each, not EPOLLEXCLUSIVE across
// processes) and the first to accept it has it. A process at its
// descriptor budget stops watching the sockets (frontend/fdbudget.go),
// leaving the queue to the others.
//
// A daemon's name carries its configuration, so a reload that changes
// the front end's settings starts new ones (beside the old, on the same
// sockets) and stops the old. The name carries the process's number too,
// not the count: going from 2 to 3 keeps the first two running.
func (l *launcher) routerDaemon(self string) []master.DaemonSpec {
	if len(l.routers) == 0 {
		return nil
	}
	files := []*os.File{l.rt.Stdin, l.rt.Log, l.rt.Log}
	for _, r := range l.routers {
		files = append(files, r.File)
	}
	fe := l.frontEnd()
	encoded := fe.Encode()
	env := append(append([]string(nil), l.baseEnv...), l.cfg.Env...)
	if l.cfg.LogJSON {
		env = append(env, ipc.EnvLogJSON+"=1")
	}
	env = append(env, ipc.EnvFrontEnd+"="+encoded)
	args := []string{self, "http"}
	spec := func(env []string) func() (*master.ProcSpec, error) {
		return func() (*master.ProcSpec, error) {
			return &master.ProcSpec{Path: self, Args: args, Env: env, Dir: l.cfg.Chdir, Files: files,
				Credential: l.cred, DeathSignal: 15, Log: l.rt.logPipe()}, nil
		}
	}
	n := l.cfg.Router.Processes
	if n <= 0 {
		return []master.DaemonSpec{{Name: "http front end: " + encoded, Spec: spec(env)}}
	}
	out := make([]master.DaemonSpec, n)
	for i := range out {
		own := append(env[:len(env):len(env)], fmt.Sprintf("%s=%d", ipc.EnvFrontEndProcess, i+1))
		out[i] = master.DaemonSpec{Name: fmt.Sprintf("http front end %d: %s", i+1, encoded), Spec: spec(own)}
	}
	return out
}

// backends are where the front end forwards: http-to, else the first
// uwsgi socket (a wildcard TCP address is reached on loopback).
func (l *launcher) backends() []string {
	if len(l.cfg.Router.HTTPTo) > 0 {
		return l.cfg.Router.HTTPTo
	}
	addr := firstUwsgi(l.cfg.Sockets)
	switch {
	case strings.HasPrefix(addr, "0.0.0.0:"):
		return []string{"127.0.0.1:" + strings.TrimPrefix(addr, "0.0.0.0:")}
	case strings.HasPrefix(addr, "[::]:"):
		return []string{"[::1]:" + strings.TrimPrefix(addr, "[::]:")}
	case strings.HasPrefix(addr, ":"):
		return []string{"127.0.0.1" + addr}
	case strings.HasPrefix(addr, "/"):
		return []string{"unix:" + addr}
	}
	return []string{addr}
}
