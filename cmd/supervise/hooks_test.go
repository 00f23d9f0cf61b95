package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// envApp answers /NAME with the worker's environment variable NAME.
const envApp = `
import os
def application(environ, start_response):
    body = os.environ.get(environ["PATH_INFO"][1:], "(unset)").encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

func hookMaster(t *testing.T, extra ...string) (m *masterProc, dir, sock string) {
	t.Helper()
	py := debianPython(t)
	dir = shortTempDir(t)
	writeFile(t, filepath.Join(dir, "envapp.py"), envApp)
	sock = filepath.Join(dir, "run", "app.sock") // run/ is made by hook-asap
	args := append([]string{"--socket", sock, "--module", "envapp", "--processes", "2", "--python-bin", py, "--chdir", dir,
		"--hook-asap", "mkdir:" + filepath.Join(dir, "run")}, extra...)
	return startMaster(t, dir, args...), dir, sock
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func TestHookPhasesRunInUWSGIOrder(t *testing.T) {
	dir := shortTempDir(t)
	order := filepath.Join(dir, "order")
	step := func(phase string) string { return "appendn:" + order + " " + phase }
	m, _, sock := hookMaster(t,
		"--hook-asap", step("asap"),
		"--hook-as-root", step("as-root"),
		"--exec-as-user", "echo as-user >> "+order,
		"--hook-pre-app", "putenv:HOOKVAR=from-pre-app",
		"--exec-pre-app", `echo "pre-app $HOOKVAR" >> `+order,
		"--hook-master-start", "unix_signal:15 gracefully_kill_them_all",
		"--hook-master-start", step("master-start"),
		"--hook-accepting", step("accepting"),
		"--hook-accepting1-once", step("accepting1-once"),
		"--hook-post-app", step("post-app"),
		"--hook-post-app", "print:post-app finished",
		"--exec-as-user-atexit", "echo atexit >> "+order,
	)
	m.waitLog(`hook: post-app finished`, 1)
	if _, body, err := uwsgiFetch(sock, "/HOOKVAR"); err != nil || body != "from-pre-app" {
		t.Fatalf("a worker sees HOOKVAR=%q (%v), want putenv's value", body, err)
	}
	got := readLines(t, order)
	want := []string{"asap", "as-root", "as-user", "pre-app from-pre-app", "master-start"}
	if len(got) != 9 || strings.Join(got[:5], ",") != strings.Join(want, ",") || got[8] != "post-app" {
		t.Fatalf("phases ran in this order:\n%s\nwant %v, then 2 x accepting and accepting1-once, then post-app", strings.Join(got, "\n"), want)
	}
	if n := strings.Count(strings.Join(got[5:8], ","), "accepting"); n != 3 || !strings.Contains(strings.Join(got[5:8], ","), "accepting1-once") {
		t.Fatalf("accepting phases: %v", got[5:8])
	}
	m.waitLog(`unix_signal: SIGTERM stops gracefully already`, 1)
	m.signal(syscall.SIGTERM)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := readLines(t, order); got[len(got)-1] != "atexit" {
		t.Fatalf("as-user-atexit did not run last: %v", got)
	}
}

func TestFailingExecPreAppStopsTheStart(t *testing.T) {
	m, dir, _ := hookMaster(t, "--exec-pre-app", "echo migrating; exit 3", "--hook-post-app", "mkdir:never")
	if code := m.waitExit(); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	log := m.log()
	if !strings.Contains(log, "migrating") || !matchString(`hook-pre-app exec:echo migrating; exit 3: command exited with exit status 3`, log) {
		t.Fatalf("the log does not show the command's output and failure:\n%s", log)
	}
	if strings.Contains(log, "spawned worker") {
		t.Fatal("workers started after a failing exec-pre-app")
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); err == nil {
		t.Fatal("post-app ran after a failing pre-app")
	}
}

func TestHookExitStopsTheStartWithItsCode(t *testing.T) {
	m, _, _ := hookMaster(t, "--hook-as-root", "exit:7")
	if code := m.waitExit(); code != 7 {
		t.Fatalf("exit code %d, want 7", code)
	}
}

func TestFailingPreAppRefusesAReload(t *testing.T) {
	dir := shortTempDir(t)
	flag := filepath.Join(dir, "broken")
	m, _, sock := hookMaster(t, "--exec-pre-app", "test ! -e "+flag)
	m.waitLog(`all workers ready`, 1)
	writeFile(t, flag, "")
	m.signal(syscall.SIGHUP)
	m.waitLog(`reload refused: the current workers keep serving: .*pre-app hook failed`, 1)
	if code, _, err := uwsgiFetch(sock, "/HOME"); err != nil || code != 200 {
		t.Fatalf("after a refused reload: %d %v", code, err)
	}
	os.Remove(flag)
	m.signal(syscall.SIGHUP)
	m.waitLog(`all workers ready: generation=2`, 1)
}

func TestFailingAcceptingHookStopsTheMaster(t *testing.T) {
	m, _, _ := hookMaster(t, "--hook-accepting1", "exec:false")
	if code := m.waitExit(); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	m.waitLog(`stopping the master: hook-accepting1 exec:false`, 1)
}

func TestUnixSignalRemapsAMasterSignal(t *testing.T) {
	// SIGUSR1 (10) is the stats dump; remapped, it stops the master gracefully.
	m, _, _ := hookMaster(t, "--hook-master-start", "unix_signal:10 gracefully_kill_them_all")
	m.waitLog(`all workers ready`, 1)
	m.signal(syscall.SIGUSR1)
	m.waitLog(`graceful shutdown`, 1)
	if code := m.waitExit(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func TestCheckShowsHooks(t *testing.T) {
	processTest(t)
	var out, errb strings.Builder
	code := check([]string{"--no-import", "--socket", "/tmp/x.sock", "--module", "app", "--exec-pre-app", "python manage.py migrate",
		"--hook-master-start", "unix_signal:15 gracefully_kill_them_all", "--cron", "-5 -1 -1 -1 -1 /usr/bin/cleanup"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("check: %d %s", code, errb.String())
	}
	for _, want := range []string{`hook:        pre-app         exec:python manage.py migrate (as the master's user)`,
		`hook:        master-start    unix_signal:15 gracefully_kill_them_all`, `cron:        cron = -5 -1 -1 -1 -1 /usr/bin/cleanup (harakiri 0s)`,
		`exec-pre-app = python manage.py migrate`, `hook-master-start = unix_signal:15 gracefully_kill_them_all`, `cron = -5 -1 -1 -1 -1 /usr/bin/cleanup`} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(out.String()) {
			t.Errorf("check does not show %q:\n%s", want, out.String())
		}
	}
}

func TestUserPhasesRunAsTheWorkersUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run hooks as nobody")
	}
	shared := filepath.Join(shortTempDir(t), "shared")
	m, _, _ := hookMaster(t, "--uid", "nobody", "--gid", "nogroup",
		"--hook-as-root", "mkdir:"+shared, "--hook-as-root", "chmod:"+shared+" 777", "--hook-as-root", "write:"+shared+"/root root",
		"--hook-as-user", "write:"+shared+"/user user", "--exec-pre-app", "id -u > "+shared+"/id",
		"--hook-post-app", "print:done", "--cron", "-1 -1 -1 -1 -1 id -u > "+shared+"/cronid")
	m.waitLog(`hook: done`, 1)
	m.waitLog(`cron: command exited: .*exit code 0`, 1)
	for file, uid := range map[string]uint32{"root": 0, "user": 65534, "id": 65534, "cronid": 65534} {
		st, err := os.Stat(filepath.Join(shared, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Sys().(*syscall.Stat_t).Uid; got != uid {
			t.Errorf("%s was written by uid %d, want %d", file, got, uid)
		}
	}
	if got := readLines(t, filepath.Join(shared, "id")); got[0] != "65534" {
		t.Errorf("exec-pre-app ran as uid %v, want nobody", got)
	}
}

func TestHookTouchRunsWhenTheFileChanges(t *testing.T) {
	dir := shortTempDir(t)
	marker := filepath.Join(dir, "marker")
	writeFile(t, marker, "")
	m, _, _ := hookMaster(t, "--hook-touch", marker+" appendn:"+filepath.Join(dir, "out")+" touched", "--hook-touch", marker+" print:marker touched")
	m.waitLog(`all workers ready`, 1)
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(marker, future, future); err != nil {
		t.Fatal(err)
	}
	m.waitLog(`hook: marker touched`, 1)
	if got := readLines(t, filepath.Join(dir, "out")); len(got) != 1 || got[0] != "touched" {
		t.Fatalf("hook-touch wrote %v", got)
	}
}

// A hook command must not see systemd's notify socket: a program that
// notifies would tell systemd the service is ready (or stopping) for it.
func TestHookCommandsDoNotGetTheMastersNotifySocket(t *testing.T) {
	dir := shortTempDir(t)
	l, err := ipc.ListenNotify(filepath.Join(dir, "systemd.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := startMasterWith(t, dir, func(c *exec.Cmd) { c.Env = append(c.Env, "NOTIFY_SOCKET="+l.Path) },
		"--http-socket", "127.0.0.1:0", "--exec-asap", `echo "hook sees notify=${NOTIFY_SOCKET:-none} path=${PATH:+set}"`, "--env", "FROMENV=1",
		"--exec-asap", `echo "hook sees env=$FROMENV"`)
	m.waitLog(`hook sees notify=none path=set`, 1)
	m.waitLog(`hook sees env=1`, 1)
}
