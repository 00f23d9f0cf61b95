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

// Fork sends one fork request and waits for the worker's pid. The log
// pipe's write end goes along (SCM_RIGHTS) and is closed here once sent.
func (z *zygoteConn) Fork(spec *master.ProcSpec) (int, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.closeChild()
	if z.fd < 0 {
		return 0, errors.New("the zygote is gone")
	}
	z.seq++
	set, unset := envDiff(z.env, spec.Env)
	req, err := json.Marshal(ipc.ZygoteForkRequest{Seq: z.seq, Set: set, Unset: unset})
	if err != nil {
		return 0, err
	}
	if len(req) > ipc.ZygoteMaxRequest {
		return 0, fmt.Errorf("fork request of %d bytes: the workers' environment is too large for the zygote (at most %d)", len(req), ipc.ZygoteMaxRequest)
	}
	var rights []byte
	if spec.Log != nil {
		w, err := spec.Log.ProcessPipe()
		if err != nil {
			return 0, fmt.Errorf("log pipe: %w", err)
		}
		defer w.Close()
		rights = unix.UnixRights(int(w.Fd()))
	}
	if err := unix.Sendmsg(z.fd, req, rights, nil, 0); err != nil {
		return 0, fmt.Errorf("fork request to the zygote: %w", err)
	}
	return z.answer(z.seq)
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

// answer waits for the answer to request seq. An answer to an earlier
// request, whose wait timed out, names a worker nobody supervises: it is
// killed (the master reaps it as an unknown child) and skipped.
func (z *zygoteConn) answer(seq uint64) (int, error) {
	deadline := time.Now().Add(zygoteForkTimeout)
	buf := make([]byte, 512)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, fmt.Errorf("the zygote did not answer a fork request within %v", zygoteForkTimeout)
		}
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(z.fd), Events: unix.POLLIN}}, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) || (err == nil && n == 0) {
			continue
		}
		if err != nil {
			return 0, err
		}
		n, _, _, _, err = unix.Recvmsg(z.fd, buf, nil, 0)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("the zygote's answer: %w", err)
		}
		if n == 0 {
			return 0, errors.New("the zygote is gone (its socket closed)")
		}
		msg := string(buf[:n])
		kind, rest, _ := strings.Cut(msg, " ")
		first, text, _ := strings.Cut(rest, " ")
		switch kind {
		case "pid":
			p, err1 := strconv.Atoi(first)
			s, err2 := strconv.ParseUint(text, 10, 64)
			if err1 != nil || err2 != nil || p <= 1 {
				return 0, fmt.Errorf("the zygote answered %q", msg)
			}
			if s != seq {
				unix.Kill(p, unix.SIGKILL)
				continue
			}
			return p, nil
		case "error":
			if s, err := strconv.ParseUint(first, 10, 64); err == nil && s != seq {
				continue
			}
			return 0, fmt.Errorf("the zygote could not fork: %s", text)
		}
		return 0, fmt.Errorf("the zygote answered %q", msg)
	}
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
