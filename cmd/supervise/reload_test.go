package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// loadLoop sends requests through url from several clients until stop is
// closed (or a bound is reached) and counts failures.
type loadLoop struct {
	ok, failed atomic.Int64
	firstErr   atomic.Value
	wg         sync.WaitGroup
	stop       chan struct{}
}

func startLoad(url string, clients int) *loadLoop {
	return startLoadWith(url, clients, &http.Transport{MaxIdleConnsPerHost: clients})
}

// startLoadWith is startLoad through tr (a connection per request, say).
func startLoadWith(url string, clients int, tr *http.Transport) *loadLoop {
	l := &loadLoop{stop: make(chan struct{})}
	client := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < clients; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; n < 100000 && time.Now().Before(deadline); n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.firstErr.CompareAndSwap(nil, err.Error())
				} else {
					l.ok.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *loadLoop) finish() (ok, failed int64, firstErr any) {
	close(l.stop)
	l.wg.Wait()
	return l.ok.Load(), l.failed.Load(), l.firstErr.Load()
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func TestGracefulReloadUnderLoadFailsNothing(t *testing.T) {
	parallel(t)
	m, dir, sock := startEcho(t)
	base := startNginx(t, dir, "unix:"+sock)
	before := m.workerPids()
	ino := inode(t, sock)
	load := startLoad(base+"/pid", 8)
	for gen := 2; gen <= 4; gen++ {
		m.signal(syscall.SIGHUP)
		m.waitLog(fmt.Sprintf(`all workers ready: generation=%d`, gen), 1)
	}
	m.waitLog(`worker stopped: `, 6) // every old worker has drained and exited
	ok, failed, firstErr := load.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d requests failed across 3 reloads (%d ok); first error: %v", failed, ok, firstErr)
	}
	after := m.workerPids()
	for _, old := range before {
		for _, now := range after {
			if old == now {
				t.Fatalf("worker %d survived the reloads (before %v, after %v)", old, before, after)
			}
		}
	}
	if len(after) != 2 || inode(t, sock) != ino {
		t.Fatalf("after reload: workers %v, socket replaced: %v", after, inode(t, sock) != ino)
	}
	t.Logf("%d requests, 0 failed, across 3 graceful reloads", ok)
}

// startWithBrokenModuleAside runs the echo app from an ini, with broken.py
// (an import error) beside it for a reload to switch to.
func startWithBrokenModuleAside(t *testing.T) (m *masterProc, dir, sock, ini string) {
	t.Helper()
	return startWithBrokenModuleAsideEnv(t, shortTempDir(t))
}

// startWithBrokenModuleAsideEnv runs it in dir with more environment.
func startWithBrokenModuleAsideEnv(t *testing.T, dir string, env ...string) (m *masterProc, _, sock, ini string) {
	t.Helper()
	py := debianPython(t)
	sock = filepath.Join(dir, "app.sock")
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	writeFile(t, filepath.Join(dir, "broken.py"), "import not_installed_anywhere\n")
	ini = filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nsocket = %s\nmodule = echo\nprocesses = 2\nchdir = %s\n", sock, dir))
	m = startMasterWith(t, dir, func(c *exec.Cmd) { c.Env = append(c.Env, env...) }, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready`, 1)
	return m, dir, sock, ini
}

func TestReloadWithBrokenAppKeepsServing(t *testing.T) {
	parallel(t)
	m, dir, sock, ini := startWithBrokenModuleAside(t)
	before := m.workerPids()
	base := startNginx(t, dir, "unix:"+sock)

	writeFile(t, ini, strings.Replace(readFile(t, ini), "module = echo", "module = broken", 1))
	load := startLoad(base+"/pid", 4)
	m.signal(syscall.SIGHUP)
	m.waitLog(`reload failed: .*before it was ready`, 1)
	ok, failed, firstErr := load.finish()
	if failed != 0 {
		t.Fatalf("%d requests failed during a broken reload (%d ok): %v", failed, ok, firstErr)
	}
	if code, _ := get(t, base+"/pid"); code != 200 {
		t.Fatal("not serving after the failed reload")
	}
	// The failed generation's other worker is stopped just after the
	// failure is logged: wait for that before comparing.
	waitGone(t, m.spawnedIn(2), 10*time.Second)
	if after := m.workerPids(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("workers changed: %v -> %v", before, after)
	}

	writeFile(t, ini, strings.Replace(readFile(t, ini), "module = broken", "module = echo", 1))
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
}

func TestReloadAppliesNewProcessCount(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nsocket = %s/app.sock\nmodule = echo\nprocesses = 2\nchdir = %s\n", dir, dir))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready: generation=1 workers=2`, 1)
	writeFile(t, ini, strings.Replace(readFile(t, ini), "processes = 2", "processes = 3", 1))
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2 workers=3`, 1)
	m.waitLog(`worker stopped: `, 2)
	if n := len(m.workerPids()); n != 3 {
		t.Fatalf("%d workers after reload, want 3", n)
	}
}

func TestReloadVerbUsesThePidfile(t *testing.T) {
	parallel(t)
	pidfile := filepath.Join(shortTempDir(t), "app.pid")
	m, _, _ := startEcho(t, "--pidfile", pidfile)
	var stderr strings.Builder
	if code := run([]string{"reload", "--pidfile", pidfile}, nil, &stderr); code != 0 {
		t.Fatalf("supervise reload: %d %s", code, stderr.String())
	}
	m.waitLog(`all workers ready: generation=2`, 1)
	if code := run([]string{"stop", "--pidfile", pidfile}, nil, &stderr); code != 0 {
		t.Fatalf("supervise stop: %d %s", code, stderr.String())
	}
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if code := run([]string{"reload"}, nil, &stderr); code != 2 || !strings.Contains(stderr.String(), "--pidfile") {
		t.Fatalf("reload without a target: %d %q", code, stderr.String())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestReloadBindsAddedSocketsAndClosesRemovedOnes(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	sock := filepath.Join(dir, "old.sock")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	ini := filepath.Join(dir, "app.ini")
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nsocket = %s\nmodule = echo\nchdir = %s\nvacuum = true\n", sock, dir))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready`, 1)
	if code, _ := uwsgiGet(t, sock, "/pid"); code != 200 {
		t.Fatal("old socket not serving")
	}
	writeFile(t, ini, fmt.Sprintf("[uwsgi]\nhttp-socket = %s\nmodule = echo\nchdir = %s\nvacuum = true\n", addr, dir))
	m.signal(syscall.SIGHUP)
	m.waitLog(`listening on a socket added by the reload: address=`+addr, 1)
	m.waitLog(`all workers ready: generation=2`, 1)
	m.waitLog(`closed a socket the configuration no longer names: address=`+sock, 1)
	if code, _ := get(t, "http://"+addr+"/pid"); code != 200 {
		t.Fatal("the added http-socket does not serve")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("the removed socket's file is still there (vacuum): %v", err)
	}
}
