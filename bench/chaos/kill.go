package chaos

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/stats"
)

// KillStorm SIGKILLs a random ready worker of Master every Every for For. Each
// victim is frozen first (SIGSTOP) so the connections it holds can be
// counted exactly: those requests are the ones its death may fail. In
// the background the stats server is polled to time how long after each
// kill the pool is full again (Processes slots ready, none of them a
// killed worker).
type KillStorm struct {
	Master    int
	Socket    string // the uwsgi unix socket the workers accept on
	Stats     string // the master's stats address
	Processes int
	Every     time.Duration
	For       time.Duration
	// MinKills keeps the storm going past For until it has killed this
	// many workers (at most 10 x For): on a loaded machine the pool may
	// not be ready again by the next tick.
	MinKills int
	Settle   time.Duration // how long to wait for the pool after the last kill; 0 means 10 s
}

// KillResult is what a storm did and saw.
type KillResult struct {
	Kills        int
	NoVictim     int           // ticks with no ready worker to kill
	InFlight     int           // connections the victims held when frozen: the failure bound
	MaxRespawn   time.Duration // longest kill -> the master started its replacement
	SlowRespawns int           // kills after which that took over a second
	MaxRefill    time.Duration // longest kill -> every slot has a READY worker again (adds the app's startup)
	SlowRefills  int           // kills after which that took over a second (or never happened)
	Zombies      []int         // children of the master left unreaped once the pool is full
	MasterAlive  bool
	Errors       []string
}

func (r KillResult) String() string {
	return fmt.Sprintf("kills=%d no_victim=%d inflight=%d max_respawn_ms=%d slow_respawns=%d max_refill_ms=%d slow_refills=%d zombies=%d master_alive=%v errors=%q",
		r.Kills, r.NoVictim, r.InFlight, r.MaxRespawn.Milliseconds(), r.SlowRespawns, r.MaxRefill.Milliseconds(), r.SlowRefills, len(r.Zombies), r.MasterAlive, r.Errors)
}

type kill struct {
	pid int
	at  time.Time
}

// Run performs the storm; it returns when the pool is full after the last
// kill or Settle has passed.
func (k KillStorm) Run() KillResult {
	var (
		mu      sync.Mutex
		pending []kill // not yet refilled (ready)
		spawned []kill // not yet respawned (a live process in the slot)
		killed  = map[int]bool{}
		res     KillResult
	)
	stopPoll := make(chan struct{})
	pollDone := make(chan struct{})
	full := make(chan struct{}, 1)
	go func() { // the refill timer
		defer close(pollDone)
		for {
			select {
			case <-stopPoll:
				return
			default:
			}
			t0 := time.Now()
			st, _, err := stats.Fetch(k.Stats)
			if err == nil && k.isFull(st, &mu, killed) {
				mu.Lock()
				var left []kill
				for _, kl := range pending {
					if kl.at.Before(t0) {
						took := time.Since(kl.at)
						res.MaxRefill = max(res.MaxRefill, took)
						if took > time.Second {
							res.SlowRefills++
						}
					} else {
						left = append(left, kl)
					}
				}
				pending = left
				empty := len(pending) == 0
				mu.Unlock()
				if empty {
					select {
					case full <- struct{}{}:
					default:
					}
				}
			}
			time.Sleep(25 * time.Millisecond) // polling: the stats server has no push
		}
	}()

	respawnDone := make(chan struct{})
	seen := map[int]bool{}
	for _, pid := range LiveChildren(k.Master) {
		seen[pid] = true
	}
	go func() { // the respawn timer: /proc only, so it is not slowed by the stats server
		defer close(respawnDone)
		for {
			k.resolveRespawns(seen, &mu, &spawned, &res)
			select {
			case <-stopPoll:
				return
			default:
			}
			time.Sleep(5 * time.Millisecond) // polling /proc: no event for another process's fork
		}
	}()

	tick := time.NewTicker(k.Every)
	end, hardEnd := time.Now().Add(k.For), time.Now().Add(10*k.For)
	for now := time.Now(); now.Before(end) || (res.Kills < k.MinKills && now.Before(hardEnd)); now = time.Now() {
		<-tick.C
		victim := k.pickReady(killed, &mu)
		if victim == 0 {
			res.NoVictim++
			continue
		}
		n, err := k.freezeAndCount(victim)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
			continue
		}
		mu.Lock()
		killed[victim] = true
		pending = append(pending, kill{pid: victim, at: time.Now()})
		spawned = append(spawned, pending[len(pending)-1])
		mu.Unlock()
		syscall.Kill(victim, syscall.SIGKILL)
		res.Kills++
		res.InFlight += n
	}
	tick.Stop()

	settle := k.Settle
	if settle == 0 {
		settle = 10 * time.Second
	}
	drain := func() {
		select {
		case <-full:
		default:
		}
	}
	drain() // a "full" from before the last kill says nothing
	select {
	case <-full:
	case <-time.After(settle):
	}
	close(stopPoll)
	<-pollDone
	<-respawnDone
	mu.Lock()
	if len(spawned) > 0 { // never respawned
		res.SlowRespawns += len(spawned)
		res.MaxRespawn = max(res.MaxRespawn, settle)
	}
	res.SlowRefills += len(pending) // never refilled
	if len(pending) > 0 {
		res.MaxRefill = max(res.MaxRefill, settle)
	}
	mu.Unlock()
	res.Zombies = Zombies(k.Master)
	res.MasterAlive = Alive(k.Master)
	return res
}

// resolveRespawns times each kill to the next worker process the master
// starts: every kill causes exactly one respawn, so new children answer
// the pending kills in order.
func (k KillStorm) resolveRespawns(seen map[int]bool, mu *sync.Mutex, spawned *[]kill, res *KillResult) {
	live := LiveChildren(k.Master)
	now := time.Now()
	mu.Lock()
	defer mu.Unlock()
	for _, pid := range live {
		if seen[pid] {
			continue
		}
		seen[pid] = true
		if len(*spawned) == 0 {
			continue
		}
		took := now.Sub((*spawned)[0].at)
		*spawned = (*spawned)[1:]
		res.MaxRespawn = max(res.MaxRespawn, took)
		if took > time.Second {
			res.SlowRespawns++
		}
	}
}

// pickReady picks a random worker the stats server shows ready (0 if
// none). One still starting is left alone: killed before it is ready (or
// has served) its death counts as a failed start and its slot backs off by
// design (master/backoff.go), which is not what this storm measures.
func (k KillStorm) pickReady(killed map[int]bool, mu *sync.Mutex) int {
	st, _, err := stats.Fetch(k.Stats)
	if err != nil {
		return 0
	}
	var ready []int
	mu.Lock()
	for _, w := range st.Workers {
		if w.PID > 0 && w.Accepting == 1 && !killed[w.PID] && Alive(w.PID) {
			ready = append(ready, w.PID)
		}
	}
	mu.Unlock()
	if len(ready) == 0 {
		return 0
	}
	return ready[rand.IntN(len(ready))]
}

func (k KillStorm) isFull(st stats.Stats, mu *sync.Mutex, killed map[int]bool) bool {
	if len(st.Workers) != k.Processes {
		return false
	}
	mu.Lock()
	defer mu.Unlock()
	for _, w := range st.Workers {
		if w.PID <= 0 || w.Accepting != 1 || killed[w.PID] || !Alive(w.PID) {
			return false
		}
	}
	return true
}

// freezeAndCount stops pid and counts the connections it holds. A stopped
// process accepts nothing more and finishes nothing, so the count is what
// SIGKILL will take down.
func (k KillStorm) freezeAndCount(pid int) (int, error) {
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return 0, fmt.Errorf("SIGSTOP %d: %w", pid, err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		stopped, ok := allThreadsStopped(pid)
		if !ok {
			return 0, fmt.Errorf("worker %d vanished before the kill", pid)
		}
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("worker %d did not stop", pid)
		}
		time.Sleep(time.Millisecond) // the stop is asynchronous; /proc is the only way to see it land
	}
	return AcceptedConns(pid, k.Socket), nil
}

// Freeze stops (SIGSTOP) a worker of Master that is inside a request and
// times how long the master takes to notice (harakiri) and kill it, and
// how long until the pool is full again.
type Freeze struct {
	Master    int
	Socket    string
	Stats     string
	Processes int
	Within    time.Duration // give up waiting after this long
}

// FreezeResult is what one freeze saw.
type FreezeResult struct {
	PID      int
	InFlight int           // connections the frozen worker held
	Gone     time.Duration // freeze -> the worker is dead
	Full     time.Duration // freeze -> the pool is full again
	Error    string
}

func (r FreezeResult) String() string {
	return fmt.Sprintf("pid=%d inflight=%d gone_ms=%d full_ms=%d error=%q",
		r.PID, r.InFlight, r.Gone.Milliseconds(), r.Full.Milliseconds(), r.Error)
}

// Run freezes one busy worker; the load must be running.
func (f Freeze) Run() FreezeResult {
	var res FreezeResult
	var start time.Time
	for try := 0; ; try++ {
		if try == 200 {
			res.Error = "never caught a worker inside a request"
			return res
		}
		st, _, err := stats.Fetch(f.Stats)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		pid := 0
		for _, w := range st.Workers {
			if w.Status == "busy" && w.PID > 0 {
				pid = w.PID
			}
		}
		if pid == 0 {
			time.Sleep(10 * time.Millisecond) // no request in flight right now: look again
			continue
		}
		k := KillStorm{Socket: f.Socket}
		n, err := k.freezeAndCount(pid)
		if err != nil {
			continue
		}
		start = time.Now()
		if inRequest(f.Stats, pid) {
			res.PID, res.InFlight = pid, n
			break
		}
		syscall.Kill(pid, syscall.SIGCONT) // it finished its request before the stop landed
	}
	deadline := start.Add(f.Within)
	for Alive(res.PID) {
		if time.Now().After(deadline) {
			syscall.Kill(res.PID, syscall.SIGCONT)
			res.Error = "the frozen worker was never replaced"
			return res
		}
		time.Sleep(10 * time.Millisecond) // polling /proc: no event for another process's death
	}
	res.Gone = time.Since(start)
	var mu sync.Mutex
	for {
		st, _, err := stats.Fetch(f.Stats)
		if err == nil && f.toStorm().isFull(st, &mu, map[int]bool{res.PID: true}) {
			res.Full = time.Since(start)
			return res
		}
		if time.Now().After(deadline) {
			res.Error = "the pool never filled again"
			return res
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (f Freeze) toStorm() KillStorm {
	return KillStorm{Master: f.Master, Socket: f.Socket, Stats: f.Stats, Processes: f.Processes}
}

// inRequest asks the stats server whether pid has a core inside a request.
func inRequest(addr string, pid int) bool {
	st, _, err := stats.Fetch(addr)
	if err != nil {
		return false
	}
	for _, w := range st.Workers {
		if w.PID != pid {
			continue
		}
		for _, c := range w.Cores {
			if c.InRequest == 1 {
				return true
			}
		}
	}
	return false
}

// WaitFull waits until every one of Processes slots has a ready worker.
func (k KillStorm) WaitFull(within time.Duration) error {
	var mu sync.Mutex
	deadline := time.Now().Add(within)
	for {
		st, _, err := stats.Fetch(k.Stats)
		if err == nil && k.isFull(st, &mu, nil) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the pool at %s never had %d ready workers (last error: %v)", k.Stats, k.Processes, err)
		}
		time.Sleep(20 * time.Millisecond) // polling: the stats server has no push
	}
}
