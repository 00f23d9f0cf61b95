// Package worker makes a Go program a supervise worker with one line in
// its main:
//
//	log.Fatal(worker.Serve(handler)) // handler is any http.Handler
//
// Under supervise it serves the inherited sockets (uwsgi protocol for
// nginx's uwsgi_pass, HTTP for http-socket) with at most --threads
// requests at once, tells the master when it is ready, drains in-flight
// requests on SIGTERM and exits when the master is gone. Run alone, the
// same binary serves HTTP on $PORT (default 127.0.0.1:8080).
package worker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/ipc"
)

// Listener is one inherited listening socket.
type Listener struct {
	net.Listener
	Proto string // "uwsgi" or "http"
}

var stopCtx, stopNow = context.WithCancel(context.Background())

// Stopping is cancelled when a graceful stop begins: long-running
// handlers (streams, long polls) should finish up when it is done.
func Stopping() context.Context { return stopCtx }

// ID is this worker's id (1..processes, stable across respawns), or 0
// when not run by supervise.
func ID() int {
	id, _ := strconv.Atoi(os.Getenv(ipc.EnvWorkerID))
	return id
}

// Supervised reports whether the process was started by supervise (or by
// a socket-activating parent that handed it sockets).
func Supervised() bool {
	if os.Getenv(ipc.EnvListenFDs) == "" {
		return false
	}
	if os.Getenv(ipc.EnvWorkerID) != "" {
		return true
	}
	pid, err := strconv.Atoi(os.Getenv(ipc.EnvListenPID))
	return err == nil && pid == os.Getpid()
}

// Listeners returns the inherited sockets, for apps that run their own
// server. Call it once: each call takes the descriptors again.
func Listeners() ([]Listener, error) {
	n, err := strconv.Atoi(os.Getenv(ipc.EnvListenFDs))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("%s=%q: not a socket count", ipc.EnvListenFDs, os.Getenv(ipc.EnvListenFDs))
	}
	names := strings.Split(os.Getenv(ipc.EnvListenFDNames), ":")
	var out []Listener
	for i := 0; i < n; i++ {
		f := os.NewFile(uintptr(ipc.FirstListenFD+i), "listener")
		l, err := net.FileListener(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("inherited fd %d: %w", ipc.FirstListenFD+i, err)
		}
		proto := ipc.ProtoUwsgi
		if i < len(names) && names[i] != "" {
			proto = names[i]
		}
		out = append(out, Listener{Listener: l, Proto: proto})
	}
	return out, nil
}

// Serve serves h until the process is told to stop. It returns only on an
// error; a graceful stop (SIGTERM) exits the process with status 0 once
// in-flight requests are done, so `log.Fatal(worker.Serve(h))` is right.
func Serve(h http.Handler) error {
	if !Supervised() {
		return serveAlone(h)
	}
	ls, err := Listeners()
	if err != nil {
		return err
	}
	s := newServer(h, ls)
	return s.run()
}
