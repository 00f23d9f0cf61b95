package main

import (
	"path/filepath"
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
