package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
)

// startEchoBehindFrontEnd runs the echo app with only `--http`: the master
// runs the front end and makes a private uwsgi socket for it.
func startEchoBehindFrontEnd(t *testing.T, extra ...string) (m *masterProc, dir, base string) {
	t.Helper()
	py := debianPython(t)
	dir = shortTempDir(t)
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	args := append([]string{"--http", addr, "--module", "echo", "--processes", "2", "--python-bin", py, "--chdir", dir}, extra...)
	m = startMaster(t, dir, args...)
	m.waitLog(`all workers ready`, 1)
	m.waitLog(`http(\.\d+)?: listening`, 1)
	return m, dir, "http://" + addr
}

func TestFrontEndRunsUnderTheMasterAndSurvivesItsCrash(t *testing.T) {
	parallel(t)
	m, _, base := startEchoBehindFrontEnd(t, "--static-map", "/files=.")
	m.waitLog(`event loops serving plain HTTP: `, 1)
	if code, body := get(t, base+"/files/echo.py"); code != 200 || body != echoApp {
		t.Fatalf("static-map through the front end: %d", code)
	}
	if code, _ := get(t, base+"/pid"); code != 200 {
		t.Fatalf("GET /pid through the front end: %d", code)
	}
	private := fmt.Sprintf("%s/supervise-http-%d", os.TempDir(), m.cmd.Process.Pid)
	if st, err := os.Stat(private); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("private socket directory %s: %v %v", private, st, err)
	}
	front := daemonPIDs(t, m, 1)[0]
	load := startLoad(base+"/pid", 4)
	if err := syscall.Kill(front, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`daemon exited; restarting it: daemon="http front end`, 1)
	daemonPIDs(t, m, 2)
	m.waitLog(`http(\.\d+)?: listening`, 2)
	// The master holds the listening socket: connections made while the
	// front end restarts wait in its queue instead of being refused.
	ok, failed, firstErr := load.finish()
	inFlight := int64(4) // requests the killed front end held
	if failed > inFlight || ok == 0 {
		t.Fatalf("%d ok, %d failed (at most %d in flight on the killed front end): %v", ok, failed, inFlight, firstErr)
	}
	if code, _ := get(t, base+"/pid"); code != 200 {
		t.Fatal("not serving after the front end restarted")
	}
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := os.Stat(private); !os.IsNotExist(err) {
		t.Fatalf("private socket directory left behind: %v", err)
	}
}

func TestReloadThroughTheFrontEndFailsNoRequest(t *testing.T) {
	parallel(t)
	m, _, base := startEchoBehindFrontEnd(t)
	front := daemonPIDs(t, m, 1)[0]
	load := startLoad(base+"/pid", 4)
	for i := 1; i <= 2; i++ {
		m.signal(syscall.SIGHUP)
		m.waitLog(`all workers ready: generation=`+fmt.Sprint(i+1), 1)
	}
	ok, failed, firstErr := load.finish()
	if failed != 0 || ok == 0 {
		t.Fatalf("%d ok, %d failed across reloads through the front end: %v", ok, failed, firstErr)
	}
	if !alive(front) || len(m.waitLog(`started daemon: `, 1)) != 1 {
		t.Fatal("a reload that did not change the front end's settings restarted it")
	}
}

func TestHTTPSFrontEndFromAnINI(t *testing.T) {
	parallel(t)
	py := debianPython(t)
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "echo.py"), echoApp)
	cert, key, pool := testCert(t, dir)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	writeFile(t, filepath.Join(dir, "app.ini"), fmt.Sprintf(`[uwsgi]
https = %s,%s,%s
socket = %%dapp.sock
module = echo
chdir = %%d
processes = 2
`, addr, cert, key))
	m := startMaster(t, dir, "--ini", filepath.Join(dir, "app.ini"), "--python-bin", py)
	m.waitLog(`http: listening: address=https://`+addr, 1)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/pid")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("%s %d, want 200 over h2", resp.Proto, resp.StatusCode)
	}
	m.waitLog(`backends\\":\[\\"unix:`+regexp.QuoteMeta(filepath.Join(dir, "app.sock")), 1) // the configured socket, not a private one
}
