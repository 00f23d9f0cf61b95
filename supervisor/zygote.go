package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
)

// zygoteForkTimeout bounds one fork request: a fork takes milliseconds,
// and the loop waits for the answer.
const zygoteForkTimeout = 5 * time.Second

// Zygote is the preloading plan's zygote process: the worker spec
// without a worker id, plus its end of the fork socket.
func (l *launcher) Zygote(z master.ZygoteInfo) (*master.ProcSpec, master.Forker, error) {
	board := -1
	if l.cfg.Scoreboard {
		board = 0 // the fd layout of the workers; the zygote writes no slot
	}
	spec, err := l.Spec(master.SpawnInfo{ID: 0, Generation: z.Generation, BoardSlot: board, Reloading: z.Reloading})
	if err != nil {
		return nil, nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("zygote socket pair: %w", err)
	}
	child := os.NewFile(uintptr(fds[1]), "zygote")
	spec.Files = append(spec.Files, child)
	spec.Env = append(spec.Env, ipc.EnvZygoteFD+"="+strconv.Itoa(len(spec.Files)-1))
	if len(l.cfg.Preload.Warmup) > 0 {
		spec.Env = append(spec.Env, ipc.EnvPreloadWarmup+"="+strings.Join(l.cfg.Preload.Warmup, "\n"))
	}
	if l.cfg.Preload.CallOSAfterFork {
		spec.Env = append(spec.Env, ipc.EnvPyCallOSAfterFork+"=1")
	}
	return spec, &zygoteConn{fd: fds[0], child: child, env: spec.Env}, nil
}

// zygoteConn is the master's end of a zygote's fork socket.
type zygoteConn struct {
	mu    sync.Mutex
	seq   uint64
	fd    int
	child *os.File // the zygote's end, closed once it started
	env   []string // the zygote's environment, as started
}

// Fork forks one worker (a fork request naming one).
func (z *zygoteConn) Fork(spec *master.ProcSpec) (int, error) {
	pids, errs := z.ForkAll([]*master.ProcSpec{spec})
	return pids[0], errs[0]
}

// ForkAll forks the workers of specs, ipc.ZygoteMaxBatch to a request,
// and returns each one's pid or error, in specs' order. Each worker's log
// pipe write end goes along (SCM_RIGHTS) and is closed here once sent.
func (z *zygoteConn) ForkAll(specs []*master.ProcSpec) ([]int, []error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.closeChild()
	pids, errs := make([]int, len(specs)), make([]error, len(specs))
	for lo := 0; lo < len(specs); lo += ipc.ZygoteMaxBatch {
		hi := min(lo+ipc.ZygoteMaxBatch, len(specs))
		z.forkBatch(specs[lo:hi], pids[lo:hi], errs[lo:hi])
	}
	return pids, errs
}

// forkBatch sends one fork request for specs and fills pids and errs.
func (z *zygoteConn) forkBatch(specs []*master.ProcSpec, pids []int, errs []error) {
	fail := func(err error) {
		for i := range errs {
			if errs[i] == nil && pids[i] == 0 {
				errs[i] = err
			}
		}
	}
	if z.fd < 0 {
		fail(errors.New("the zygote is gone"))
		return
	}
	z.seq++
	req := ipc.ZygoteForkRequest{Seq: z.seq, Workers: make([]ipc.ZygoteWorker, len(specs))}
	var fds []int
	for i, spec := range specs {
		set, unset := envDiff(z.env, spec.Env)
		req.Workers[i] = ipc.ZygoteWorker{Set: set, Unset: unset, Log: -1}
		if spec.Log == nil {
			continue
		}
		w, err := spec.Log.ProcessPipe()
		if err != nil {
			fail(fmt.Errorf("log pipe: %w", err))
			return
		}
		defer w.Close()
		req.Workers[i].Log = len(fds)
		fds = append(fds, int(w.Fd()))
	}
	msg, err := json.Marshal(req)
	if err != nil {
		fail(err)
		return
	}
	if len(msg) > ipc.ZygoteMaxRequest {
		fail(fmt.Errorf("fork request of %d bytes: the workers' environment is too large for the zygote (at most %d)", len(msg), ipc.ZygoteMaxRequest))
		return
	}
	var rights []byte
	if len(fds) > 0 {
		rights = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(z.fd, msg, rights, nil, 0); err != nil {
		fail(fmt.Errorf("fork request to the zygote: %w", err))
		return
	}
	got, err := z.answer(z.seq, len(specs))
	if err != nil {
		fail(err)
		return
	}
	for i, pid := range got {
		pids[i] = pid
		if pid <= 0 {
			pids[i], errs[i] = 0, errors.New("the zygote could not fork this worker (fork failed)")
		}
	}
}

// envDiff is how env differs from base ("K=V" lists; a later entry
// wins, as in Python's os.environ): the entries of env whose variable
// base lacks or has with another value, in env's order, and the names of
// base's variables env lacks.
func envDiff(base, env []string) (set, unset []string) {
	was := envMap(base)
	want := envMap(env)
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		if old, ok := was[k]; (!ok || old != v) && want[k] == v && !slices.Contains(set, kv) {
			set = append(set, kv)
		}
	}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := want[k]; !ok && !slices.Contains(unset, k) {
			unset = append(unset, k)
		}
	}
	return set, unset
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// answer waits for the answer to request seq, the pids of its n
// workers. An answer to an earlier request, whose wait timed out, names
// workers nobody supervises: they are killed (the master reaps them as
// unknown children) and skipped.
func (z *zygoteConn) answer(seq uint64, n int) ([]int, error) {
	deadline := time.Now().Add(zygoteForkTimeout)
	buf := make([]byte, 64+12*ipc.ZygoteMaxBatch)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("the zygote did not answer a fork request within %v", zygoteForkTimeout)
		}
		k, err := unix.Poll([]unix.PollFd{{Fd: int32(z.fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) || (err == nil && k == 0) {
			continue
		}
		if err != nil {
			return nil, err
		}
		k, _, _, _, err = unix.Recvmsg(z.fd, buf, nil, 0)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("the zygote's answer: %w", err)
		}
		if k == 0 {
			return nil, errors.New("the zygote is gone (its socket closed)")
		}
		msg := string(buf[:k])
		kind, rest, _ := strings.Cut(msg, " ")
		first, text, _ := strings.Cut(rest, " ")
		s, err := strconv.ParseUint(first, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("the zygote answered %q", msg)
		}
		switch kind {
		case "pids":
			pids, ok := parsePids(text)
			if s != seq {
				for _, p := range pids {
					if p > 1 {
						unix.Kill(p, unix.SIGKILL)
					}
				}
				continue
			}
			if !ok || len(pids) != n {
				return nil, fmt.Errorf("the zygote answered %q to a request for %d workers", msg, n)
			}
			return pids, nil
		case "error":
			if s != seq {
				continue
			}
			return nil, fmt.Errorf("the zygote could not fork: %s", text)
		}
		return nil, fmt.Errorf("the zygote answered %q", msg)
	}
}

// parsePids reads "P1 P2 ...": each a pid, or 0 for a fork that failed.
func parsePids(text string) ([]int, bool) {
	var pids []int
	for _, f := range strings.Fields(text) {
		p, err := strconv.Atoi(f)
		if err != nil || p < 0 || p == 1 {
			return pids, false
		}
		pids = append(pids, p)
	}
	return pids, true
}

// closeChild closes the master's copy of the zygote's end: once the
// zygote runs, a dead zygote then reads as EOF here.
func (z *zygoteConn) closeChild() {
	if z.child != nil {
		z.child.Close()
		z.child = nil
	}
}

func (z *zygoteConn) Close() {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.closeChild()
	if z.fd >= 0 {
		unix.Close(z.fd)
		z.fd = -1
	}
}
