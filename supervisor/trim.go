package supervisor

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// trimResult is what trimMemory gave back: the master's resident pages
// of its own binary, and those of the mappings it dropped, in KB.
type trimResult struct {
	BinaryKB, ReleasedKB int
	Mappings             int
}

// trimMemory gives back what the master touched only to start: once a
// generation is up, the pages of its own binary that start-up faulted in
// (config parsing, option tables, every package's init: about 10 MB of a
// 16 MB binary, mapped by no other process, so all of it counted in the
// master's PSS) are unmapped with MADV_DONTNEED. (No debug.FreeOSMemory:
// the heap it would return is the log buffers', which start small now;
// and a forced collection closes no forgotten file: checked by collecting
// every 100 ms under the hostile-input test.) The pages stay in
// the page cache: what the loop runs faults back in (about 3 MB measured
// under load), the rest the kernel may reclaim. Only read-only mappings of
// the executable without anonymous (copy-on-write) pages are dropped, so
// no byte of the process's state is lost, whatever the build mode.
func trimMemory(smaps *os.File) trimResult {
	var res trimResult
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil || smaps == nil {
		return res
	}
	for _, m := range readOnlyMappings(smaps, exe) {
		res.BinaryKB += m.rssKB
		if _, _, e := unix.Syscall(unix.SYS_MADVISE, m.start, m.end-m.start, unix.MADV_DONTNEED); e == 0 {
			res.Mappings++
			res.ReleasedKB += m.rssKB
		}
	}
	return res
}

type mapping struct {
	start, end uintptr
	rssKB      int
}

// readOnlyMappings lists path's mappings in smaps (/proc/self/smaps, read
// again from its start) that are not writable and hold no anonymous pages.
func readOnlyMappings(f *os.File, path string) []mapping {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil
	}
	var out []mapping
	var cur *mapping
	var anon int
	flush := func() {
		if cur != nil && anon == 0 {
			out = append(out, *cur)
		}
		cur, anon = nil, 0
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") { // a mapping's header: range perms offset dev inode path
			flush()
			if len(fields) < 6 || fields[5] != path || strings.Contains(fields[1], "w") {
				continue
			}
			lo, hi, ok := strings.Cut(fields[0], "-")
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if !ok || err1 != nil || err2 != nil || end <= start {
				continue
			}
			cur = &mapping{start: uintptr(start), end: uintptr(end)}
			continue
		}
		if cur == nil || len(fields) < 2 {
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "Rss:":
			cur.rssKB = n
		case "Anonymous:":
			anon = n
		}
	}
	flush()
	return out
}

// openSmaps opens /proc/self/smaps for trimMemory, for the master's life.
func openSmaps() *os.File {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return nil
	}
	return f
}

// trimDelay: the trim runs this long after a generation is ready, once
// its start (post-app hooks, first requests) is over.
const trimDelay = 2 * time.Second

// trimMemory runs after a generation is ready, off the loop's goroutine.
func (s *serving) trimMemory(gen int) {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	smaps := openSmaps()
	if smaps == nil {
		return
	}
	r := trimMemory(smaps)
	smaps.Close() // before the line: a test counts the master's descriptors once it sees it
	s.log.Info("returned start-up memory: the binary's pages start-up touched are unmapped", "generation", gen,
		"resident_kb", r.BinaryKB, "released_kb", r.ReleasedKB)
}
