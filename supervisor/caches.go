package supervisor

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
)

// What the uwsgi module's cache and locks share beyond the locks memfd:
// a memfd per cache (ipc.CreateCache), made once with the runtime, so
// the caches outlive every worker and every reload, and the prefix of
// the workers' named semaphores (ipc.EnvSemPrefix).
type sharedAPI struct {
	caches    []*os.File
	names     []string
	stores    []string // per cache: "" (memfd), or what its store file was: "created PATH", "restored from PATH"
	semPrefix string   // "/supervise-PID-STAMP"
}

// shmDir is where glibc keeps named semaphores (sem.NAME).
var shmDir = "/dev/shm"

func newSharedAPI(cfg *config.Config, runtimeDir string) (*sharedAPI, error) {
	// PID, its start time and the runtime directory's suffix: enough for
	// a later master to tell these semaphores are stale (staleSemaphore).
	s := &sharedAPI{semPrefix: fmt.Sprintf("/supervise-%d-%d-%s", os.Getpid(), procStart(os.Getpid()),
		strings.TrimPrefix(filepath.Base(runtimeDir), "supervise-"))}
	removeStaleSemaphores(shmDir, filepath.Dir(runtimeDir))
	for _, c := range cfg.CacheSpecs() {
		var flags uint64
		if c.PurgeLRU {
			flags |= ipc.CacheFlagPurgeLRU
		}
		if c.ClearOnFull {
			flags |= ipc.CacheFlagClearOnFull
		}
		if c.IgnoreFull {
			flags |= ipc.CacheFlagIgnoreFull
		}
		if c.NoExpire {
			flags |= ipc.CacheFlagNoExpire
		}
		spec := ipc.CacheSpec{Name: c.Name, Items: c.Items, Blocksize: c.Blocksize,
			Keysize: c.Keysize, Hashsize: c.Hashsize, Flags: flags, MathInitial: c.MathInitial}
		var f *os.File
		var err error
		store := ""
		if c.Store == "" {
			f, err = ipc.CreateCache(spec)
		} else {
			var created bool
			f, created, err = ipc.OpenCacheStore(spec, c.Store, c.StoreDelete)
			store = "restored from " + c.Store
			if created {
				store = "created " + c.Store
			}
		}
		if err != nil {
			s.close()
			return nil, err
		}
		s.caches = append(s.caches, f)
		s.names = append(s.names, c.Name)
		s.stores = append(s.stores, store)
	}
	return s, nil
}

// adoptSharedAPI takes over the previous master's caches and semaphore
// names after an in-place upgrade, so its workers and the new ones share
// every lock and cache. The cache options are the first master's.
func adoptSharedAPI(st *upgradeState) *sharedAPI {
	s := &sharedAPI{semPrefix: st.SemPrefix, names: st.CacheNames}
	for i, fd := range st.Caches {
		unix.CloseOnExec(fd)
		s.caches = append(s.caches, os.NewFile(uintptr(fd), "cache "+st.CacheNames[i]))
	}
	return s
}

// logCaches says what each cache holds, as uWSGI's "Cache initialized"
// line does, from the memfd's header (after an upgrade the caches are the
// first master's, whatever the configuration says now).
func (s *sharedAPI) logCaches(log hclog.Logger) {
	for i, name := range s.names {
		var head [8 * (ipc.CacheHdrKeysize + 1)]byte
		st, err := s.caches[i].Stat()
		if err == nil {
			_, err = s.caches[i].ReadAt(head[:], 0)
		}
		if err != nil {
			log.Warn("cache: cannot read its header", "name", name, "error", err)
			continue
		}
		word := func(w int) uint64 { return binary.LittleEndian.Uint64(head[8*w:]) }
		kv := []any{"name", name, "items", word(ipc.CacheHdrItems) - 1, "blocksize", word(ipc.CacheHdrBlocksize),
			"keysize", word(ipc.CacheHdrKeysize), "shared_memory_mb", st.Size() >> 20, "default", i == 0}
		if i < len(s.stores) && s.stores[i] != "" {
			kv = append(kv, "store", s.stores[i])
		}
		log.Info("cache ready", kv...)
	}
}

// files are the memfds a Python worker inherits, from fd first on; env
// tells it where they are.
func (s *sharedAPI) env(first int) []string {
	list := make([][2]any, len(s.caches))
	for i, name := range s.names {
		list[i] = [2]any{name, first + i}
	}
	js, _ := json.Marshal(list) // strings and ints: cannot fail
	return []string{ipc.EnvCaches + "=" + string(js), ipc.EnvSemPrefix + "=" + s.semPrefix}
}

// close drops the memfds and removes this master's semaphores (and those
// of the master it replaced with an upgrade: same pid).
func (s *sharedAPI) close() {
	for i, f := range s.caches {
		if i < len(s.stores) && s.stores[i] != "" {
			f.Sync() // a store file: on disk before the master is gone
		}
		f.Close()
	}
	names, _ := filepath.Glob(filepath.Join(shmDir, fmt.Sprintf("sem.supervise-%d-*", os.Getpid())))
	for _, n := range names {
		os.Remove(n)
	}
}

// removeStaleSemaphores deletes the semaphores of masters that died
// without cleaning up (SIGKILL, OOM): sem.supervise-PID-START-DIR-* whose
// runtime directory (tmp/supervise-DIR) is gone and whose PID is not the
// same process any more (dead, or started at another time). Both must
// hold: a live master in another pid namespace sharing /dev/shm keeps its
// runtime directory, and one with another TMPDIR keeps its process.
func removeStaleSemaphores(dir, tmp string) (removed []string) {
	names, _ := filepath.Glob(filepath.Join(dir, "sem.supervise-*"))
	for _, n := range names {
		f := strings.SplitN(strings.TrimPrefix(filepath.Base(n), "sem.supervise-"), "-", 4)
		if len(f) < 4 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		start, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 != nil || err2 != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join(tmp, "supervise-"+f[2])); err == nil {
			continue // its master's runtime directory is there (removeStaleRuntimeDirs ran first)
		}
		if unix.Kill(pid, 0) != unix.ESRCH && procStart(pid) == start {
			continue
		}
		if os.Remove(n) == nil {
			removed = append(removed, n)
		}
	}
	return removed
}

// procStart is when process pid started (clock ticks since boot, field 22
// of /proc/PID/stat), 0 if unknown.
func procStart(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}
