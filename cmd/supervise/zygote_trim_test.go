package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// An app that maps a 4 MB file read-only at import and reads every page,
// so the zygote has those pages resident; a request sums the mapping.
const mappedFileApp = `
import mmap, os
_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "blob.bin")
with open(_path, "wb") as f:
    f.write(bytes(range(256)) * (4 << 12))
_f = open(_path, "rb")
BLOB = mmap.mmap(_f.fileno(), 0, prot=mmap.PROT_READ)
TOTAL = sum(BLOB[i + 5] for i in range(0, len(BLOB), 4096))
def application(environ, start_response):
    body = b"%d %d" % (TOTAL, sum(BLOB[i + 5] for i in range(0, len(BLOB), 4096)))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// Once its workers are forked, the zygote drops the pages of its
// read-only file mappings (its PSS counted them in full where no worker
// maps them); the workers still read the same bytes.
func TestZygoteDropsItsReadOnlyFilePagesAfterForking(t *testing.T) {
	m, dir, base := startModuleApp(t, "mapped", mappedFileApp, 2)
	zygote := zygotePID(m, 1)
	m.waitLog(`the zygote dropped its read-only file pages`, 1)
	blob := filepath.Join(dir, "blob.bin")
	if kb := mappedRssKB(t, zygote, blob); kb != 0 {
		t.Errorf("the zygote has %d KB of blob.bin resident after its trim, want 0", kb)
	}
	code, body := get(t, base+"/")
	f := strings.Fields(body)
	if code != 200 || len(f) != 2 || f[0] != f[1] || f[0] == "0" {
		t.Fatalf("a worker read %d %q from the mapping, want the import's sum twice", code, body)
	}
}

// mappedRssKB is the Rss (KB) of pid's mappings of path.
func mappedRssKB(t *testing.T, pid int, path string) int {
	t.Helper()
	kb, seen := smapsRssKB(t, pid, func(_, p string) bool { return p == path })
	if !seen {
		t.Fatalf("pid %d does not map %s", pid, path)
	}
	return kb
}

// An app whose import fills 32 MB of malloc's heap and frees it, with a
// block kept above so the heap's top cannot shrink.
const freedHeapApp = `
_chunks = [b"%06d" % i * 170 for i in range(32 << 10)]
KEEP = _chunks[-1]  # the highest block
del _chunks
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
`

// Before its first fork the zygote returns the free pages inside malloc's
// heap (malloc_trim): what the import freed is no page for the workers to
// share and copy.
func TestZygoteReturnsItsFreeHeapPagesBeforeForking(t *testing.T) {
	m, _, base := startModuleApp(t, "freed", freedHeapApp, 2)
	zygote := zygotePID(m, 1)
	if kb := anonymousKB(t, zygote); kb > 24<<10 {
		t.Errorf("the zygote holds %d KB of anonymous memory after the import freed 32 MB of it, want under 24 MB", kb)
	}
	if code, body := get(t, base+"/"); code != 200 || body != "ok" {
		t.Fatalf("%d %q", code, body)
	}
}

// anonymousKB is pid's Anonymous memory (KB), from smaps_rollup.
func anonymousKB(t *testing.T, pid int) int {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Anonymous:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no Anonymous: line in pid %d's smaps_rollup", pid)
	return 0
}
