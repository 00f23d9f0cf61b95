package supervisor

import (
	"path/filepath"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/signals"
)

// startSignals serves uWSGI signals (uwsgi.register_signal, add_timer,
// add_cron ...) on a socket in the runtime directory: the master owns
// the clocks and routes each signal (package signals). Workers find it
// through ipc.EnvSignalSocket and connect by path, so a forked or
// respawned process needs nothing inherited.
func (s *serving) startSignals() error {
	processes := s.cfg.Processes
	srv, err := signals.Listen(filepath.Join(s.rt.Dir, ipc.SignalSocketName), s.log.Named("signal"),
		func() int { return processes })
	if err != nil {
		return err
	}
	s.rt.Signals = srv.Path
	s.onClose(srv.Close)
	return nil
}
