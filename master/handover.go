package master

// Handover is the loop's part of an in-place upgrade (SIGUSR2): the
// generation and the processes the next master adopts. The wiring adds
// the file descriptors and carries it across exec.
type Handover struct {
	Generation int
	Workers    []AdoptedWorker
	Daemons    []AdoptedDaemon
}

// AdoptedWorker is a running worker handed over to the next master.
type AdoptedWorker struct {
	PID, ID, Generation, BoardSlot int
	Stopping                       bool
}

// AdoptedDaemon is a running daemon handed over to the next master.
type AdoptedDaemon struct {
	Name string
	PID  int
}

// handover is what Hooks.Upgrade gets.
func (m *Master) handover() Handover {
	return Handover{Generation: m.generation, Workers: m.adoptedWorkers(), Daemons: m.daemonState()}
}

// Adopt takes over the workers and daemons a previous master handed over,
// then starts a graceful reload that replaces them with workers of the
// new binary's plan.
func (m *Master) Adopt(h Handover) {
	m.generation = h.Generation
	now := m.os.Now()
	for _, a := range h.Workers {
		w := &worker{ID: a.ID, PID: a.PID, Generation: a.Generation, State: Ready, Started: now, ReadyAt: now, BoardSlot: a.BoardSlot}
		m.workers[a.PID] = w
		if m.board != nil && a.BoardSlot >= 0 {
			m.board.Take(a.BoardSlot)
		}
		if a.Stopping {
			m.stop(w, "was stopping before the upgrade")
			continue
		}
		if s := m.slot(a.ID); s != nil && (s.Current == nil || s.Current.Generation < w.Generation) {
			s.Current = w
			s.LastSpawn = now
		}
	}
	m.adoptDaemons(h.Daemons)
	m.announced = m.generation
	m.log.Info("upgraded in place: adopted the running workers", "workers", len(h.Workers), "generation", h.Generation)
	m.reload(false, graceful)
}

func (m *Master) adoptedWorkers() []AdoptedWorker {
	var out []AdoptedWorker
	for _, w := range m.workers {
		out = append(out, AdoptedWorker{PID: w.PID, ID: w.ID, Generation: w.Generation, BoardSlot: w.BoardSlot, Stopping: w.State == Stopping})
	}
	return out
}
