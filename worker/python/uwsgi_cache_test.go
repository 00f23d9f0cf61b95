package python_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/worker/python"
)

// runCacheScript runs a Python script with the uwsgi module loaded (as
// `uwsgi`) and the given caches made by ipc.CreateCache, as a worker
// inherits them; it returns the script's stdout.
func runCacheScript(t *testing.T, script string, specs ...ipc.CacheSpec) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	dir := t.TempDir()
	if _, err := python.WriteAll(dir, 0o600); err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("/supervise-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_"))
	t.Cleanup(func() { removeSems(prefix) })
	locks, err := os.CreateTemp(dir, "locks")
	if err != nil {
		t.Fatal(err)
	}
	defer locks.Close()
	files := []*os.File{locks}
	var list [][2]any
	for i, s := range specs {
		f, err := ipc.CreateCache(s)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
		list = append(list, [2]any{s.Name, 4 + i})
	}
	js, _ := json.Marshal(list)
	head := `import sys, importlib.util
spec = importlib.util.spec_from_file_location("uwsgi", sys.argv[1])
uwsgi = importlib.util.module_from_spec(spec)
sys.modules["uwsgi"] = uwsgi
spec.loader.exec_module(uwsgi)
`
	cmd := exec.Command(python3, "-c", head+script, filepath.Join(dir, python.APIFileName))
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(), ipc.EnvLocksFD+"=3", ipc.EnvLocks+"=0", ipc.EnvSemPrefix+"="+prefix, ipc.EnvCaches+"="+string(js))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, stderr.String())
	}
	return string(out) + stderr.String()
}

// uwsgi_cache.py mirrors ipc/cache.go's layout and names.
func TestUwsgiCacheMirrorsTheContract(t *testing.T) {
	str := func(s string) string { return strconv.Quote(s) }
	num := func(n int) string { return strconv.Itoa(n) }
	want := map[string]string{
		"_ENV_CACHES": str(ipc.EnvCaches), "_ENV_SEM_PREFIX": str(ipc.EnvSemPrefix),
		"_CACHE_MAGIC": fmt.Sprintf("%#x", ipc.CacheMagic),
		"_H_MAGIC":     num(ipc.CacheHdrMagic), "_H_ITEMS": num(ipc.CacheHdrItems), "_H_BLOCKSIZE": num(ipc.CacheHdrBlocksize),
		"_H_KEYSIZE": num(ipc.CacheHdrKeysize), "_H_HASHSIZE": num(ipc.CacheHdrHashsize), "_H_FLAGS": num(ipc.CacheHdrFlags),
		"_H_MATH_INITIAL": num(ipc.CacheHdrMathInitial), "_H_ITEM_BYTES": num(ipc.CacheHdrItemBytes),
		"_H_HASH_OFF": num(ipc.CacheHdrHashOff), "_H_STACK_OFF": num(ipc.CacheHdrStackOff),
		"_H_ITEMS_OFF": num(ipc.CacheHdrItemsOff), "_H_DATA_OFF": num(ipc.CacheHdrDataOff),
		"_H_NITEMS": num(ipc.CacheHdrNItems), "_H_FREE": num(ipc.CacheHdrFree), "_H_LRU_HEAD": num(ipc.CacheHdrLRUHead),
		"_H_LRU_TAIL": num(ipc.CacheHdrLRUTail), "_H_NEXT_SCAN": num(ipc.CacheHdrNextScan), "_H_FULL": num(ipc.CacheHdrFull),
		"_H_OWNER":     num(ipc.CacheHdrOwner),
		"_F_PURGE_LRU": num(ipc.CacheFlagPurgeLRU), "_F_CLEAR_ON_FULL": num(ipc.CacheFlagClearOnFull),
		"_F_IGNORE_FULL": num(ipc.CacheFlagIgnoreFull), "_F_NO_EXPIRE": num(ipc.CacheFlagNoExpire),
		"_I_KEYLEN": num(ipc.CacheItemKeylen), "_I_VALLEN": num(ipc.CacheItemVallen), "_I_HASH": num(ipc.CacheItemHash),
		"_I_EXPIRES": num(ipc.CacheItemExpires), "_I_NEXT": num(ipc.CacheItemNext), "_I_PREV": num(ipc.CacheItemPrev),
		"_I_LRU_PREV": num(ipc.CacheItemLRUPrev), "_I_LRU_NEXT": num(ipc.CacheItemLRUNext), "_ITEM_WORDS": num(ipc.CacheItemWords),
	}
	checkMirrors(t, "uwsgi_cache.py", want)
	checkMirrors(t, python.APIFileName, map[string]string{"_ENV_SEM_PREFIX": str(ipc.EnvSemPrefix)})
}

// Four processes add to one counter with cache_inc and append their own
// keys at once: no update is lost and the hash chains stay whole (the
// cache's lock excludes other processes).
func TestUwsgiCacheConcurrentProcesses(t *testing.T) {
	out := runCacheScript(t, `
import os
kids = []
for p in range(4):
    pid = os.fork()
    if pid == 0:
        for i in range(500):
            uwsgi.cache_inc("counter")
            assert uwsgi.cache_set("p%d-%d" % (p, i), b"x" * (i % 7 + 1)), i
        os._exit(0)
    kids.append(pid)
for pid in kids:
    assert os.waitpid(pid, 0)[1] == 0
keys = uwsgi.cache_keys()
print(uwsgi.cache_num("counter"), len(keys), all(uwsgi.cache_get(k) == b"x" * (int(k.split(b"-")[1]) % 7 + 1) for k in keys if k != b"counter"))
`, ipc.CacheSpec{Name: "c", Items: 2100, Blocksize: 16, Keysize: 32, Hashsize: 64})
	if strings.TrimSpace(out) != "2000 2001 True" {
		t.Fatalf("counter, keys, values: %s", out)
	}
}

// A process killed while it holds a cache's lock does not stop the
// others: the next one takes the lock over (uWSGI's robust mutexes).
func TestUwsgiCacheLockHolderDies(t *testing.T) {
	out := runCacheScript(t, `
import os, signal
c = sys.modules["_supervise_uwsgi_cache"]._default
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    c.lock()
    os.write(w, b"x")
    signal.pause()
os.read(r, 1)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print(uwsgi.cache_set("after", "1"), uwsgi.cache_get("after"))
`, ipc.CacheSpec{Name: "c", Items: 4, Blocksize: 16, Keysize: 32, Hashsize: 8})
	if !strings.Contains(out, "True b'1'") || !strings.Contains(out, "[deadlock-detector]") {
		t.Fatalf("after the holder died: %s", out)
	}
}

// Expiry: an expired item is neither returned nor listed, and its room
// goes to the next new key when the cache is full; no_expire keeps it.
func TestUwsgiCacheExpiryAndRoom(t *testing.T) {
	out := runCacheScript(t, `
import time
uwsgi.cache_set("old", "1", 1)
uwsgi.cache_set("keep", "1")
uwsgi.cache_set("n", "1", 1, "noexp")
print(uwsgi.cache_get("old"), uwsgi.cache_set("full", "1"))
t = int(time.time()) + 1
while time.time() < t + 0.05:
    time.sleep(0.05)
print(uwsgi.cache_get("old"), uwsgi.cache_exists("old"), uwsgi.cache_keys(), uwsgi.cache_set("new", "1"), sorted(uwsgi.cache_keys()))
print(uwsgi.cache_get("n", "noexp"))
`, ipc.CacheSpec{Name: "c", Items: 3, Blocksize: 16, Keysize: 32, Hashsize: 8},
		ipc.CacheSpec{Name: "noexp", Items: 3, Blocksize: 16, Keysize: 32, Hashsize: 8, Flags: ipc.CacheFlagNoExpire})
	want := "b'1' None|None None [b'keep'] True [b'keep', b'new']|b'1'"
	if got := strings.ReplaceAll(lastLines(out, 3), "\n", "|"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	var keep []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "***") {
			keep = append(keep, l)
		}
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return strings.Join(keep, "\n")
}

// otherProcess defines other(fn) in a cache script: fn runs in a forked
// process, which the script waits for.
const otherProcess = `
import os
def other(fn):
    pid = os.fork()
    if pid == 0:
        fn()
        os._exit(0)
    assert os.waitpid(pid, 0)[1] == 0
`

// A process answers repeated gets from what it read while nothing
// changed; a change by another process (set, update, del, clear, inc)
// is seen at once.
func TestUwsgiCacheSeesOtherProcessChanges(t *testing.T) {
	out := runCacheScript(t, otherProcess+`
seen = []
uwsgi.cache_set("k", "1")
seen += [uwsgi.cache_get("k"), uwsgi.cache_get("k"), uwsgi.cache_get("gone"), uwsgi.cache_get("gone")]
other(lambda: uwsgi.cache_update("k", "2"))
seen.append(uwsgi.cache_get("k"))
other(lambda: uwsgi.cache_set("gone", "here"))
seen.append(uwsgi.cache_get("gone"))
other(lambda: uwsgi.cache_del("k"))
seen.append(uwsgi.cache_get("k"))
other(lambda: uwsgi.cache_clear())
seen.append(uwsgi.cache_get("gone"))
uwsgi.cache_inc("n"); seen.append(uwsgi.cache_num("n"))
other(lambda: uwsgi.cache_inc("n", 41))
seen.append(uwsgi.cache_num("n"))
print(seen)
`, ipc.CacheSpec{Name: "c", Items: 8, Blocksize: 16, Keysize: 32, Hashsize: 8})
	if want := "[b'1', b'1', None, None, b'2', b'here', None, None, 1, 42]"; strings.TrimSpace(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// A process's repeated writes go straight to the item it wrote last
// while nothing else changed the cache; once another process freed that
// item and gave it to another key, the next write looks the key up
// again. The int64 of cache_inc & co wraps as uWSGI's, in caches whose
// blocks are 8-byte aligned (read as words) and in others.
func TestUwsgiCacheRepeatedWrites(t *testing.T) {
	out := runCacheScript(t, otherProcess+`
import time
seen = []
uwsgi.cache_set("k", "1"); uwsgi.cache_update("k", "2")
other(lambda: (uwsgi.cache_del("k"), uwsgi.cache_set("j", "J")))  # j takes k's item
seen += [uwsgi.cache_update("k", "3"), uwsgi.cache_get("j"), uwsgi.cache_get("k"), sorted(uwsgi.cache_keys())]
uwsgi.cache_update("k", "55555"); seen.append(uwsgi.cache_get("k"))
uwsgi.cache_update("k", "6"); seen += [uwsgi.cache_get("k"), uwsgi.cache_set("k", "7"), uwsgi.cache_get("k")]
uwsgi.cache_update("e", "1", 1); uwsgi.cache_update("e", "2", 1)
t = int(time.time()) + 1
while time.time() < t + 0.05:
    time.sleep(0.05)
seen += [uwsgi.cache_get("e"), uwsgi.cache_set("e", "3"), uwsgi.cache_get("e")]
for c in (None, "odd"):
    uwsgi.cache_inc("n", 1, 0, c); uwsgi.cache_inc("n", 2, 0, c); uwsgi.cache_dec("n", 5, 0, c)
    seen += [uwsgi.cache_num("n", c), uwsgi.cache_get("n", c)]
    uwsgi.cache_update("big", (2 ** 63 - 1).to_bytes(8, "little", signed=True), 0, c)
    uwsgi.cache_inc("big", 1, 0, c); seen.append(uwsgi.cache_num("big", c))
    uwsgi.cache_mul("big", 3, 0, c); seen.append(uwsgi.cache_num("big", c))
print(seen)
`, ipc.CacheSpec{Name: "c", Items: 8, Blocksize: 16, Keysize: 32, Hashsize: 8},
		ipc.CacheSpec{Name: "odd", Items: 8, Blocksize: 12, Keysize: 32, Hashsize: 8})
	want := "[True, b'J', b'3', [b'j', b'k'], b'55555', b'6', None, b'6', None, True, b'3', " +
		"-2, b'\\xfe\\xff\\xff\\xff\\xff\\xff\\xff\\xff', -9223372036854775808, -9223372036854775808, " +
		"-2, b'\\xfe\\xff\\xff\\xff\\xff\\xff\\xff\\xff', -9223372036854775808, -9223372036854775808]"
	if strings.TrimSpace(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// A repeated cache_get(key) on the default cache is answered from what
// this process read, by the caller's own key (str or bytes), while the
// cache's version word holds: a change by another process is seen at
// once, a miss turns into a hit, a value that expires is never kept (so
// never served after its time), and a key of another type gets the full
// path's answer every time.
func TestUwsgiCacheRepeatedGets(t *testing.T) {
	out := runCacheScript(t, otherProcess+`
import time
seen = []
uwsgi.cache_set("k", "1")
seen += [uwsgi.cache_get("k"), uwsgi.cache_get("k"), uwsgi.cache_get(b"k"), uwsgi.cache_get(b"k")]
for _ in range(2):
    try:
        seen.append(uwsgi.cache_get(bytearray(b"k")))
    except Exception as e:
        seen.append(type(e).__name__)
other(lambda: uwsgi.cache_update("k", "2"))
seen += [uwsgi.cache_get("k"), uwsgi.cache_get(b"k"), uwsgi.cache_get("k")]
seen += [uwsgi.cache_get("nope"), uwsgi.cache_get("nope")]
other(lambda: uwsgi.cache_set("nope", "now"))
seen += [uwsgi.cache_get("nope"), uwsgi.cache_get("nope")]
uwsgi.cache_set("e", "x", 1)
seen += [uwsgi.cache_get("e"), uwsgi.cache_get("e")]
t = int(time.time()) + 1
while time.time() < t + 0.05:
    time.sleep(0.05)
seen += [uwsgi.cache_get("e"), uwsgi.cache_get("e")]
print(seen)
`, ipc.CacheSpec{Name: "c", Items: 8, Blocksize: 16, Keysize: 32, Hashsize: 8})
	want := "[b'1', b'1', b'1', b'1', 'TypeError', 'TypeError', b'2', b'2', b'2', None, None, b'now', b'now', b'x', b'x', None, None]"
	if strings.TrimSpace(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}
