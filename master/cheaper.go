package master

import "time"

// CheaperPlan is uWSGI's cheaper subsystem: the pool runs between Min and
// Processes workers, and an algorithm decides once a second whether to
// start Step more or stop one.
type CheaperPlan struct {
	Min     int // cheaper: the fewest workers; 0 turns cheaper off
	Initial int // cheaper-initial: workers at start (Min when 0)
	Step    int // cheaper-step: workers started at once when overloaded
	Algo    string
	// Overload is cheaper-overload: for spare, seconds of every worker
	// busy before growing (and the pace of shrinking); for backlog, the
	// listen queue length; for busyness, the length of a measuring cycle.
	Overload int
	// BusynessMax/Min are percentages: above Max the pool grows, below
	// Min for Multiplier cycles in a row it shrinks.
	BusynessMax, BusynessMin, Multiplier int
	// Backlog reads the listen queue of the workers' sockets.
	Backlog func() int
}

// The algorithms, by cheaper-algo name.
const (
	algoSpare    = "spare"
	algoBusyness = "busyness"
	algoBacklog  = "backlog"
	algoManual   = "manual" // only the master FIFO's + and - change the pool
)

// cheaperState is what the algorithms remember between checks.
type cheaperState struct {
	last     time.Time
	overload int // spare: seconds in a row every worker was busy
	idle     int // spare: idle seconds; busyness: cycles below the minimum
	cycle    time.Time
	running  map[int]time.Duration // busyness: RunningTime per pid at the cycle's start
}

// cheaper runs the configured algorithm at most once a second.
func (m *Master) cheaper(now time.Time) {
	c := &m.plan.Cheaper
	if c.Min <= 0 || m.oldPlan != nil || m.rolling() || now.Sub(m.cheap.last) < time.Second {
		return
	}
	m.cheap.last = now
	var delta int
	switch c.Algo {
	case algoBusyness:
		delta = m.busynessAlgo(now)
	case algoBacklog:
		delta = m.backlogAlgo()
	case algoManual:
	default:
		delta = m.spareAlgo()
	}
	switch {
	case delta > 0:
		m.decheap(delta, "the pool is overloaded ("+m.algoName()+")")
	case delta < 0:
		m.cheapOne("the pool is idle (" + m.algoName() + ")")
	}
}

func (m *Master) algoName() string {
	if m.plan.Cheaper.Algo == "" {
		return algoSpare
	}
	return m.plan.Cheaper.Algo
}

// active lists the ready workers of non-cheap slots and how many are busy.
func (m *Master) active() (workers []*worker, busy int) {
	for _, s := range m.slots {
		if w := s.Current; !s.Cheap && w != nil && w.State == Ready {
			workers = append(workers, w)
			if m.isBusy(w) {
				busy++
			}
		}
	}
	return workers, busy
}

func (m *Master) isBusy(w *worker) bool {
	if m.board == nil || w.BoardSlot < 0 {
		return false
	}
	_, _, ok := m.board.Oldest(w.BoardSlot)
	return ok
}

// spareAlgo is uWSGI's default: when every worker has been busy for more
// than cheaper-overload seconds, grow by cheaper-step; when the pool has
// more than one idle worker, stop one every cheaper-overload seconds.
func (m *Master) spareAlgo() int {
	c, st := &m.plan.Cheaper, &m.cheap
	workers, busy := m.active()
	if len(workers) > 0 && busy == len(workers) {
		// Capped where it triggers growth: a pool at processes under
		// a long spike would otherwise need as many idle seconds to
		// count back down before it may shrink.
		st.overload = min(st.overload+1, c.Overload+1)
		st.idle = 0
	} else if st.overload > 0 {
		st.overload--
	}
	if m.canDecheap() && st.overload > c.Overload {
		st.overload = 0
		return c.Step
	}
	if st.overload > 0 || len(workers)-busy == 1 {
		return 0 // busy, or the steady state: exactly one spare worker
	}
	st.idle++
	if len(workers) > c.Min && st.idle%max(c.Overload, 1) == 0 {
		return -1
	}
	return 0
}

// backlogAlgo grows while the listen queue is longer than cheaper-overload
// and shrinks while it is shorter.
func (m *Master) backlogAlgo() int {
	c := &m.plan.Cheaper
	if c.Backlog == nil {
		return 0
	}
	queue := c.Backlog()
	workers, _ := m.active()
	switch {
	case queue > c.Overload && m.canDecheap():
		return c.Step
	case queue < c.Overload && len(workers) > c.Min:
		return -1
	}
	return 0
}

// busynessAlgo measures, over cycles of cheaper-overload seconds, the
// share of time the workers spent in requests: above BusynessMax the pool
// grows, below BusynessMin for Multiplier cycles in a row it shrinks.
func (m *Master) busynessAlgo(now time.Time) int {
	c, st := &m.plan.Cheaper, &m.cheap
	cycle := time.Duration(max(c.Overload, 1)) * time.Second
	if m.board == nil {
		return 0
	}
	if st.running == nil || now.Sub(st.cycle) < cycle {
		if st.running == nil {
			st.cycle, st.running = now, m.runningTimes()
		}
		return 0
	}
	workers, _ := m.active()
	elapsed := now.Sub(st.cycle)
	var sum float64
	for _, w := range workers {
		spent := m.board.RunningTime(w.BoardSlot) - st.running[w.PID]
		if age, _, ok := m.board.Oldest(w.BoardSlot); ok {
			spent += min(age, elapsed) // a long request counts while it runs
		}
		sum += min(float64(spent)/float64(elapsed*time.Duration(max(m.board.Cores(), 1))), 1)
	}
	st.cycle, st.running = now, m.runningTimes()
	if len(workers) == 0 {
		return 0
	}
	busyness := 100 * sum / float64(len(workers))
	m.log.Debug("cheaper busyness", "percent", int(busyness), "workers", len(workers))
	switch {
	case busyness > float64(c.BusynessMax) && m.canDecheap():
		st.idle = 0
		return c.Step
	case busyness < float64(c.BusynessMin) && len(workers) > c.Min:
		st.idle++
		if st.idle >= max(c.Multiplier, 1) {
			st.idle = 0
			return -1
		}
	default:
		st.idle = 0
	}
	return 0
}

func (m *Master) runningTimes() map[int]time.Duration {
	out := map[int]time.Duration{}
	for _, w := range m.workers {
		if w.BoardSlot >= 0 {
			out[w.PID] = m.board.RunningTime(w.BoardSlot)
		}
	}
	return out
}

func (m *Master) canDecheap() bool {
	for _, s := range m.slots {
		if s.Cheap {
			return true
		}
	}
	return false
}

// decheap opens up to n cheap slots, lowest id first; manage fills them.
func (m *Master) decheap(n int, why string) {
	now := m.os.Now()
	opened := 0
	for _, s := range m.slots {
		if opened == n {
			break
		}
		if s.Cheap {
			s.Cheap = false
			s.NextStart = now
			s.Failures = 0
			opened++
		}
	}
	if opened > 0 {
		m.log.Info("cheaper: starting more workers: "+why, "started", opened, "active", m.activeSlots())
	}
}

// cheapOne stops the highest-numbered worker, an idle one if there is
// one, gracefully, and leaves its slot empty.
func (m *Master) cheapOne(why string) {
	if m.activeSlots() <= m.plan.Cheaper.Min {
		return
	}
	var pick *slot
	for i := len(m.slots) - 1; i >= 0; i-- {
		s := m.slots[i]
		if s.Cheap {
			continue
		}
		if pick == nil {
			pick = s
		}
		if w := s.Current; w != nil && w.State == Ready && !m.isBusy(w) {
			pick = s
			break
		}
	}
	if pick == nil {
		return
	}
	pick.Cheap = true
	m.log.Info("cheaper: stopping a worker: "+why, "id", pick.ID, "active", m.activeSlots())
	if w := pick.Current; w != nil {
		pick.Current = nil
		m.stop(w, "cheaper")
	}
}

func (m *Master) activeSlots() int {
	n := 0
	for _, s := range m.slots {
		if !s.Cheap {
			n++
		}
	}
	return n
}

// fitCheaper marks slots cheap or not so that want of them are active,
// kept between cheaper and processes: lowest ids are opened first and
// highest ids cheapened first, and slots already right are left alone.
func (m *Master) fitCheaper(want int) {
	c := &m.plan.Cheaper
	if c.Min <= 0 {
		for _, s := range m.slots {
			s.Cheap = false
		}
		return
	}
	want = min(max(want, c.Min), len(m.slots))
	for _, s := range m.slots {
		if m.activeSlots() >= want {
			break
		}
		if s.Cheap {
			s.Cheap, s.NextStart = false, time.Time{}
		}
	}
	for i := len(m.slots) - 1; i >= 0 && m.activeSlots() > want; i-- {
		s := m.slots[i]
		if s.Cheap {
			continue
		}
		s.Cheap = true
		if w := s.Current; w != nil {
			s.Current = nil
			m.stop(w, "cheaper")
		}
	}
}

// initialWorkers is how many workers start: cheaper-initial, else cheaper,
// else processes.
func (p *Plan) initialWorkers() int {
	switch {
	case p.Cheaper.Min <= 0:
		return p.Processes
	case p.Cheaper.Initial > 0:
		return p.Cheaper.Initial
	}
	return p.Cheaper.Min
}
