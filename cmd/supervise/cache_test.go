package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The uWSGI cache (cache2, cache): testdata/cacheapp.py calls every
// cache function; under supervise its answers must be uWSGI 2.0.21's
// (recorded below from uWSGI, and compared with a live uWSGI when one is
// installed), the cache is shared by every worker, and it outlives
// worker deaths and reloads.

const cacheINI = "[uwsgi]\nhttp-socket = %s\nwsgi-file = cacheapp.py\nprocesses = 2\n" +
	"cache = 10\n" +
	"cache2 = name=small,items=4,blocksize=16,keysize=8\n" +
	"cache2 = name=big,items=100,blocksize=1000\n" +
	"cache2 = name=lru,items=3,blocksize=8,purge_lru=1\n" +
	"cache2 = name=cof,items=3,blocksize=8,clear_on_full=1\n" +
	"cache2 = name=mi,items=3,blocksize=8,math_initial=100\n"

// uwsgiCacheTranscript is what /script answered under uWSGI 2.0.21
// (uwsgi --plugins python3 --ini with cacheINI).
const uwsgiCacheTranscript = `[["set new","True"],["set existing","None"],["get","b:1"],["update existing","True"],` +
	`["get updated","b:2"],["update new","True"],["exists","True"],["exists missing","None"],["del","True"],` +
	`["del again","None"],["get deleted","None"],["get missing","None"],["set named","True"],` +
	`["default cache has no x","None"],["get named","b:v"],["empty name is default","b:B"],` +
	`["value over blocksize","None"],["value of blocksize","True"],["update over blocksize","None"],` +
	`["key over keysize","None"],["key of keysize","None"],["empty value","None"],["empty key","None"],` +
	`["last free item","True"],["full","None"],["update when full","True"],["keys",["b:o","b:x","b:y"]],` +
	`["unknown cache get","None"],["unknown cache set","None"],["unknown cache del","None"],` +
	`["unknown cache exists","None"],["unknown cache clear","None"],["unknown cache num","0"],` +
	`["unknown cache inc","None"],["unknown cache keys","ValueError"],["inc new","True"],["num","1"],` +
	`["inc 10","True"],["dec 3","True"],["mul","True"],["div 3","True"],["num after","5"],` +
	`["get num","b:\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000"],["div 0","True"],["num zero","0"],` +
	`["dec new","True"],["div negative","True"],["num negative","-3"],["mul new","True"],["div new","True"],` +
	`["num p q","(0, 0)"],["num missing","0"],["num of a string","0"],["num named","(True, 5, 0)"],` +
	`["str value","(True, b'\\xc3\\xa9')"],["int key","TypeError"],["bytearray key","TypeError"],` +
	`["int value","TypeError"],["float expires","TypeError"],["bytes cache name","TypeError"],` +
	`["clear named","True"],["keys after clear",[]],["set after clear","True"],["lru a b","(True, True)"],` +
	`["lru get a","b:1"],["lru set c","True"],["lru keys",["b:a","b:c"]],["cof a b","(True, True)"],` +
	`["cof set c","True"],["cof keys",["b:c"]],["math_initial","(True, 101)"],` +
	`["keys default",["b:b","b:m","b:n","b:p","b:q","b:s"]],["clear default","True"],["keys after clear default",[]]]`

// startCacheApp runs testdata/cacheapp.py under supervise with cacheINI.
func startCacheApp(t *testing.T, args ...string) (m *masterProc, dir, base string) {
	t.Helper()
	debianPython(t)
	dir = shortTempDir(t)
	writeFile(t, filepath.Join(dir, "cacheapp.py"), readFile(t, "testdata/cacheapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf(cacheINI, addr))
	m = startMaster(t, dir, append([]string{"--ini", ini, "--python-bin", "/usr/bin/python3"}, args...)...)
	m.waitLog(`all workers ready`, 1)
	return m, dir, "http://" + addr
}

// transcriptLines splits a /script answer into one step a line, for diffs.
func transcriptLines(t *testing.T, js string) []string {
	t.Helper()
	var steps []json.RawMessage
	if err := json.Unmarshal([]byte(js), &steps); err != nil {
		t.Fatalf("/script: %v: %s", err, js)
	}
	out := make([]string, len(steps))
	for i, s := range steps {
		var v any
		json.Unmarshal(s, &v)
		b, _ := json.Marshal(v)
		out[i] = string(b)
	}
	return out
}

func compareTranscripts(t *testing.T, who string, got, want []string) {
	t.Helper()
	for i := 0; i < max(len(got), len(want)); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Errorf("step %d: supervise %s, %s %s", i, g, who, w)
		}
	}
}

func TestUwsgiCacheAnswersAsUWSGI(t *testing.T) {
	m, _, base := startCacheApp(t)
	got := transcriptLines(t, fresh(t, base+"/script"))
	compareTranscripts(t, "uWSGI 2.0.21 (recorded)", got, transcriptLines(t, uwsgiCacheTranscript))
	m.waitLog(`cache ready: name=default items=9 blocksize=65536 keysize=2048 shared_memory_mb=1 default=true`, 1)
	m.waitLog(`cache ready: name=small items=3 blocksize=16 keysize=8 shared_memory_mb=0 default=false`, 1)
	m.waitLog(`\*\*\* DANGER cache "small" is FULL !!! \*\*\*`, 1)
	m.waitLog(`LRU item will be purged from cache "lru"`, 1)
}

// The same script under a live uWSGI 2.0.21, when installed (CI has it).
func TestUwsgiCacheMatchesLiveUWSGI(t *testing.T) {
	parallel(t)
	uwsgiBin := requireTool(t, "/usr/bin/uwsgi", "--plugins", "python3", "--version")
	debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "cacheapp.py"), readFile(t, "testdata/cacheapp.py"))
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf(cacheINI, addr)+"plugins = python3\nmaster = true\n")
	theirs := transcriptLines(t, underUWSGI(t, uwsgiBin, dir, ini, addr, "/script"))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
	m.waitLog(`all workers ready`, 1)
	compareTranscripts(t, "uWSGI 2.0.21", transcriptLines(t, fresh(t, "http://"+addr+"/script")), theirs)
}

// underUWSGI starts uWSGI with ini in dir, serving on addr, fetches
// path once it answers, and stops it.
func underUWSGI(t *testing.T, bin, dir, ini, addr, path string) string {
	t.Helper()
	u := startUWSGI(t, bin, dir, addr, "--ini", ini, "--disable-logging")
	body := u.Get(t, "http://"+addr+path)
	u.Stop(t)
	return body
}

// A value set through one worker is seen by the other, and stays through
// the death of every worker and a graceful reload (the master owns the
// cache's memory).
func TestUwsgiCacheSharedAndKept(t *testing.T) {
	parallel(t)
	m, _, base := startCacheApp(t)
	if got := fresh(t, base+"/set?k=kept&v=42&c=big"); got != "True" {
		t.Fatalf("set: %s", got)
	}
	seen := map[string]bool{}
	for i := 0; len(seen) < 2 && i < 200; i++ { // until both workers answered
		seen[fresh(t, base+"/pid")] = true
		if got := fresh(t, base+"/get?k=kept&c=big"); got != "b:42" {
			t.Fatalf("get from another request: %s", got)
		}
	}
	if len(seen) < 2 {
		t.Fatal("one worker answered every request")
	}
	for _, pid := range m.workerPids() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	m.waitLog(`spawned worker`, 4)
	m.waitLog(`all workers ready`, 1)
	for i := 0; i < 4; i++ {
		if got := fresh(t, base+"/get?k=kept&c=big"); got != "b:42" {
			t.Fatalf("get after every worker was killed: %s", got)
		}
	}
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
	for i := 0; i < 4; i++ {
		if got := fresh(t, base+"/get?k=kept&c=big"); got != "b:42" {
			t.Fatalf("get after a reload: %s", got)
		}
	}
}

// An item set with expires is gone once that many seconds have passed
// (uWSGI's sweeper frees it within cache-expire-freq, 3 s, after; here
// it is never returned once expired).
func TestUwsgiCacheExpires(t *testing.T) {
	parallel(t)
	_, _, base := startCacheApp(t)
	start := time.Now()
	if got := fresh(t, base+"/set?k=e&v=1&e=1&c=big"); got != "True" {
		t.Fatalf("set with expires: %s", got)
	}
	if got := fresh(t, base+"/get?k=e&c=big"); got != "b:1" && time.Since(start) < 900*time.Millisecond {
		t.Fatalf("get before it expires: %s", got)
	}
	fresh(t, base+"/set?k=forever&v=1&c=big")
	for fresh(t, base+"/get?k=e&c=big") != "None" {
		if time.Since(start) > 2500*time.Millisecond { // expires is whole seconds: at most 2 s
			t.Fatal("an item set with expires=1 is still there after 2.5 s")
		}
		time.Sleep(100 * time.Millisecond) // waiting for the clock, not for a process
	}
	if got := fresh(t, base+"/get?k=forever&c=big"); got != "b:1" {
		t.Fatalf("an item without expires: %s", got)
	}
}

// An in-place binary upgrade hands the caches (and the locks) to the new
// master: what the old workers stored, the new ones read.
func TestUwsgiCacheKeptAcrossUpgrade(t *testing.T) {
	parallel(t)
	pidfile := filepath.Join(shortTempDir(t), "app.pid")
	m, _, base := startCacheApp(t, "--pidfile", pidfile)
	if got := fresh(t, base+"/set?k=kept&v=up"); got != "True" {
		t.Fatalf("set: %s", got)
	}
	var stderr strings.Builder
	if code := run([]string{"upgrade", "--pidfile", pidfile}, nil, &stderr); code != 0 {
		t.Fatalf("supervise upgrade: %d %s", code, stderr.String())
	}
	m.waitLog(`all workers ready: generation=2`, 1)
	m.waitLog(`worker stopped: `, 2) // the old workers are gone: the new ones answer
	for i := 0; i < 4; i++ {
		if got := fresh(t, base+"/get?k=kept"); got != "b:up" {
			t.Fatalf("get after the upgrade: %s", got)
		}
	}
}

// cache2 store=PATH keeps a cache in a file across master restarts, as
// uWSGI's store: the next master's workers read what the last one's set.
// A store of another shape stops the master with what to do, unless
// store_delete, which starts the cache empty in a new file.
func TestUwsgiCacheStoreKeptAcrossRestarts(t *testing.T) {
	debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "cacheapp.py"), readFile(t, "testdata/cacheapp.py"))
	store := filepath.Join(dir, "big.cache")
	run := func(cache string) (*masterProc, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		ini := filepath.Join(dir, "app.ini")
		writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nwsgi-file = cacheapp.py\nprocesses = 2\ncache2 = %s,store=%s\n", addr, cache, store))
		return startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3"), "http://" + addr
	}
	stop := func(m *masterProc) {
		m.signal(syscall.SIGINT)
		if code := m.waitExit(); code != 0 {
			t.Fatalf("master exited %d\n%s", code, m.log())
		}
	}
	m, base := run("name=big,items=100,blocksize=1000")
	m.waitLog(`cache ready: .*store="created `, 1)
	m.waitLog(`all workers ready`, 1)
	if got := fresh(t, base+"/set?k=kept&v=42&c=big"); got != "True" {
		t.Fatalf("set: %s", got)
	}
	stop(m)

	m, base = run("name=big,items=100,blocksize=1000")
	m.waitLog(`cache ready: .*store="restored from `, 1)
	m.waitLog(`all workers ready`, 1)
	if got := fresh(t, base+"/get?k=kept&c=big"); got != "b:42" {
		t.Fatalf("get after a master restart: %s", got)
	}
	if got := fresh(t, base+"/set?k=second&v=2&c=big"); got != "True" {
		t.Fatalf("set in the restored cache: %s", got)
	}
	stop(m)

	m, _ = run("name=big,items=50,blocksize=1000")
	if code := m.waitExit(); code == 0 {
		t.Fatal("a master whose cache store has another shape started")
	}
	m.waitLog(`store .*big.cache: it holds \d+ bytes, this cache takes \d+ .*store_delete=1`, 1)

	m, base = run("name=big,items=50,blocksize=1000,store_delete=1")
	m.waitLog(`cache ready: .*store="created `, 1)
	m.waitLog(`all workers ready`, 1)
	if got := fresh(t, base+"/get?k=kept&c=big"); got != "None" {
		t.Fatalf("get from a store made anew: %s", got)
	}
}

// The legacy cache (cache = N) keeps its items in cache-store's file
// across master restarts, as a cache2's store=PATH does.
func TestUwsgiLegacyCacheStoreKeptAcrossRestarts(t *testing.T) {
	parallel(t)
	debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "cacheapp.py"), readFile(t, "testdata/cacheapp.py"))
	store := filepath.Join(dir, "legacy.cache")
	start := func() (*masterProc, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		ini := filepath.Join(dir, "app.ini")
		writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nwsgi-file = cacheapp.py\nprocesses = 2\ncache = 50\ncache-blocksize = 512\ncache-store = %s\n", addr, store))
		m := startMaster(t, dir, "--ini", ini, "--python-bin", "/usr/bin/python3")
		m.waitLog(`all workers ready`, 1)
		return m, "http://" + addr
	}
	m, base := start()
	m.waitLog(`cache ready: .*name=default .*store="created `, 1)
	if got := fresh(t, base+"/set?k=kept&v=legacy"); got != "True" {
		t.Fatalf("set: %s", got)
	}
	m.signal(syscall.SIGINT)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("master exited %d\n%s", code, m.log())
	}
	m, base = start()
	m.waitLog(`cache ready: .*name=default .*store="restored from `, 1)
	if got := fresh(t, base+"/get?k=kept"); got != "b:legacy" {
		t.Fatalf("get from the legacy cache after a master restart: %s", got)
	}
}
