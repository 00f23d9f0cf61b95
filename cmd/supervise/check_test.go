package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/worker/python"
)

// runCheck runs `supervise check ARGS` as a real process (the test binary
// re-executed as main) and returns its exit code, stdout and stderr.
func runCheck(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	processTest(t)
	cmd := exec.Command(os.Args[0], append([]string{"check"}, args...)...)
	cmd.Env = append(env, envRunMain+"=1", "GORACE=atexit_sleep_ms=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

func TestCheckExitCodes(t *testing.T) {
	parallel(t)
	dir := shortTempDir(t)
	ini := func(name, text string) string {
		path := filepath.Join(dir, name)
		writeFile(t, path, "[uwsgi]\nsocket = "+filepath.Join(dir, "app.sock")+"\nmodule = app\n"+text)
		return path
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	cases := []struct {
		name       string
		args       []string
		code       int
		stdout     []string // substrings
		stderr     []string
		notStderr  []string
		notStarted bool
	}{
		{name: "ok", args: []string{"--ini", ini("ok.ini", "processes = %(2 * 3)\n")}, code: 0,
			stdout: []string{"processes = 6", "configuration OK"}},
		{name: "typo is a notice", args: []string{"--ini", ini("typo.ini", "vacum = true\n")}, code: 0,
			stdout: []string{"configuration OK"}, stderr: []string{"notice: ", "vacum: not an option; did you mean vacuum?"}},
		{name: "strict typo is an error, notices still printed", args: []string{"--ini", ini("strict.ini", "strict = true\nplugins = python3\nvacum = true\n")}, code: 1,
			stderr: []string{"notice: plugins = python3: ignored", "error: ", `"vacum" is not an option (strict is set); did you mean vacuum?`}},
		{name: "long tail notice says how behaviour differs", args: []string{"--ini", ini("tail.ini", "ugreen = true\nsingle-interpreter = true\n")}, code: 0,
			stderr: []string{"ugreen = true: ignored (differs: ", "single-interpreter = true: ignored ("}},
		{name: "refused option", args: []string{"--ini", ini("refused.ini", "plugins = python3\ndaemonize = /var/log/app.log\n")}, code: 1,
			stderr: []string{"notice: plugins", "daemonize", "refused: supervise stays in the foreground"}, notStderr: []string{"configuration OK"}},
		{name: "refused route guard", args: []string{"--ini", ini("route.ini", "route = ^/admin basicauth:Admin,a:b\n")}, code: 1,
			stderr: []string{"guards access (basicauth)"}},
		{name: "bad value", args: []string{"--ini", ini("bad.ini", "processes = many\n")}, code: 1,
			stderr: []string{"processes"}},
		{name: "unknown flag is a usage error", args: []string{"--proceses", "4"}, code: 2,
			stderr: []string{"did you mean --processes?"}},
		{name: "missing file", args: []string{"--ini", filepath.Join(dir, "nope.ini")}, code: 1,
			stderr: []string{"nope.ini"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCheck(t, env, append(c.args, "--python-bin", "/bin/sh", "--no-import")...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			for _, want := range c.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, want := range c.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, not := range c.notStderr {
				if strings.Contains(stderr+stdout, not) {
					t.Errorf("output has %q", not)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "app.sock")); err == nil {
		t.Error("check bound a socket")
	}
}

// TestCheckPrintsTheCorpusSettings: the binary's effective settings for a
// corpus file are its golden's (the golden is Render's output; this ties
// it to what users see).
func TestCheckPrintsTheCorpusSettings(t *testing.T) {
	parallel(t)
	corpus, err := filepath.Abs("../../config/testdata/ini")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"placeholders", "include-file", "for-loop", "if-env"} {
		golden, err := os.ReadFile(filepath.Join(corpus, name+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		_, want, _ := strings.Cut(string(golden), "# settings\n")
		env := []string{"PATH=" + os.Getenv("PATH"), "HOME=/home/app", "DEPLOY_ENV=production", "APP_PORT=8000", "VENV=/srv/venv", "EMPTY="}
		code, stdout, stderr := runCheck(t, env, "--no-import", "--ini", filepath.Join(corpus, name+".ini"))
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", name, code, stderr)
		}
		_, got, _ := strings.Cut(stdout, "effective settings (defaults left out; docs/options.md lists them):\n")
		got, _, _ = strings.Cut(got, "configuration OK")
		got = strings.ReplaceAll(strings.ReplaceAll(got, "  ", ""), corpus, "$CORPUS")
		if got != want {
			t.Errorf("%s: check prints\n%s\ngolden has\n%s", name, got, want)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "app.ini")
	writeFile(t, path, "[uwsgi]\nsocket = "+filepath.Join(dir, "s.sock")+"\nmodule = app:make()\nprocesses = %(%k + 0)\nplugins = python3\n"+
		"chmod-socket = 660\nharakiri = 30\nvacuum = true\npythonpath = /a\npythonpath = /b\n")
	code, stdout, stderr := runCheck(t, []string{"PATH=" + os.Getenv("PATH")}, "--json", "--no-import", "--ini", path, "--python-bin", "/bin/sh")
	var out struct {
		Files, Notices []string
		Program        string
		UWSGI          map[string]any `json:"uwsgi"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &out) != nil {
		t.Fatalf("exit %d: %q %q", code, stdout, stderr)
	}
	u := out.UWSGI
	// uWSGI's names and the ini's units: seconds, the octal mode as written
	if u["module"] != "app" || u["callable"] != "make()" || u["processes"] == nil || u["chmod-socket"] != "660" ||
		u["harakiri"] != float64(30) || u["vacuum"] != true || u["Processes"] != nil {
		t.Fatalf("%s", stdout)
	}
	if pp, _ := u["pythonpath"].([]any); len(pp) != 2 || pp[0] != "/a" {
		t.Fatalf("pythonpath: %v", u["pythonpath"])
	}
	if sockets, _ := u["socket"].([]any); len(sockets) != 1 {
		t.Fatalf("socket: %v", u["socket"])
	}
	if len(out.Notices) != 1 || !strings.Contains(stderr, "notice: plugins") || out.Program != "/bin/sh" || len(out.Files) != 1 {
		t.Fatalf("%+v\n%s", out, stderr)
	}
}

// check fails for a configuration the master could not start, saying why.
func TestCheckFailsWithoutASocket(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "app.ini")
	writeFile(t, path, "[uwsgi]\nmodule = app\nprocesses = 2\n")
	code, stdout, stderr := runCheck(t, []string{"PATH=" + os.Getenv("PATH")}, "--no-import", "--ini", path)
	if code != 1 || strings.Contains(stdout, "configuration OK") || !strings.Contains(stderr, "no socket configured") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
}

// --ini-out prints a loadable ini: checking it gives the same settings.
func TestCheckINIOutLoadsBack(t *testing.T) {
	dir := shortTempDir(t)
	path := filepath.Join(dir, "app.ini")
	writeFile(t, path, "[uwsgi]\nhttp-socket = 127.0.0.1:0\nmodule = app\nprocesses = %(2 * 3)\nchmod-socket = 660\nharakiri = 30\nenv = A=B\nenv = C=D\n")
	env := []string{"PATH=" + os.Getenv("PATH")}
	code, ini, stderr := runCheck(t, env, "--ini-out", "--no-import", "--ini", path)
	if code != 0 || !strings.Contains(ini, "[uwsgi]\n") || !strings.Contains(ini, "processes = 6\n") || !strings.Contains(ini, "chmod-socket = 660\n") {
		t.Fatalf("exit %d\n%s\n%s", code, ini, stderr)
	}
	out := filepath.Join(dir, "out.ini")
	writeFile(t, out, ini)
	settings := func(p string) string {
		code, stdout, stderr := runCheck(t, env, "--no-import", "--ini", p)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", p, code, stderr)
		}
		_, s, _ := strings.Cut(stdout, "effective settings")
		return s
	}
	if a, b := settings(path), settings(out); a != b {
		t.Fatalf("settings differ:\n%s\n---\n%s", a, b)
	}
}

// check imports the app in the chosen interpreter (a throwaway process)
// and reports the interpreter, its version, and an import failure.
func TestCheckImportsTheApp(t *testing.T) {
	parallel(t)
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		t.Skip("no " + python)
	}
	dir := shortTempDir(t)
	writeFile(t, filepath.Join(dir, "good.py"), "import json\ndef make():\n    return lambda e, s: []\n")
	writeFile(t, filepath.Join(dir, "bad.py"), "raise RuntimeError('database unreachable')\n")
	writeFile(t, filepath.Join(dir, "usesuwsgi.py"), "import uwsgi\nassert uwsgi.masterpid() > 0 and uwsgi.opt['module'] == b'usesuwsgi'\napplication = lambda e, s: []\n")
	writeFile(t, filepath.Join(dir, "side.py"), "open('imported', 'w').close()\napplication = lambda e, s: []\n")
	ini := func(name, text string) string {
		path := filepath.Join(dir, name)
		writeFile(t, path, "[uwsgi]\nchdir = %d\nsocket = %dapp.sock\n"+text)
		return path
	}
	binDir := filepath.Join(dir, "bin")
	if err := os.Mkdir(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(python, filepath.Join(binDir, "python3")); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(binDir, "old-python")
	writeFile(t, old, "#!/bin/sh\necho '{\"executable\": \"/opt/py36\", \"version\": \"3.6.9\", \"imported\": false}' >&3\n")
	if err := os.Chmod(old, 0o755); err != nil {
		t.Fatal(err)
	}
	pathEnv := []string{"PATH=" + binDir + ":/usr/bin:/bin"}
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"imports", []string{"--ini", ini("good.ini", "module = good:make()\npython-bin = "+python+"\n")}, 0,
			[]string{"python:      " + python + " (Python 3.", "the app imports", "configuration OK"}, nil},
		{"an app that imports uwsgi", []string{"--ini", ini("uwsgi.ini", "module = usesuwsgi\npython-bin = "+python+"\n")}, 0,
			[]string{"the app imports", "configuration OK"}, nil},
		{"import error", []string{"--ini", ini("bad.ini", "module = bad\npython-bin = "+python+"\n")}, 1, nil,
			[]string{"the app does not load: module bad", "in " + python + " (Python 3.", "RuntimeError: database unreachable", `bad.py", line 1`}},
		{"missing callable", []string{"--ini", ini("nocall.ini", "module = good:app\npython-bin = "+python+"\n")}, 1, nil,
			[]string{"has no attribute 'app'"}},
		{"from PATH says how to choose another", []string{"--ini", ini("path.ini", "module = bad\n")}, 1, nil,
			[]string{"in " + filepath.Join(binDir, "python3"), "the python3 found on PATH", "set home = /path/to/venv, or python-bin"}},
		{"too old", []string{"--ini", ini("old.ini", "module = good\npython-bin = "+old+"\n")}, 1, nil,
			[]string{"is Python 3.6.9; the worker needs Python 3.7 or newer"}},
		{"mounts import", []string{"--ini", ini("mount.ini", "callable = make()\nmount = /a=good.py\nmount = /b=good:make()\nmanage-script-name = true\npython-bin = "+python+"\n")}, 0,
			[]string{"mount:       /a=good.py", "mount:       /b=good:make()", "the app imports", "configuration OK"}, nil},
		{"a mount that does not load", []string{"--ini", ini("badmount.ini", "module = good:make()\nmount = /x=bad.py\npython-bin = "+python+"\n")}, 1, nil,
			[]string{"mount = /x=bad.py: the app does not load: wsgi-file bad.py", "RuntimeError: database unreachable"}},
		{"no import on request", []string{"--no-import", "--ini", ini("skip.ini", "module = bad\npython-bin = "+python+"\n")}, 0,
			[]string{"app not imported: --no-import"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCheck(t, pathEnv, c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, c.code, stdout, stderr)
			}
			for _, w := range c.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range c.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	// the import ran in the app's directory, and nothing was bound
	code, _, stderr := runCheck(t, pathEnv, "--ini", ini("side.ini", "module = side\npython-bin = "+python+"\n"))
	if code != 0 {
		t.Fatal(stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "imported")); err != nil {
		t.Errorf("the app was not imported in its chdir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "app.sock")); err == nil {
		t.Error("check bound the app's socket")
	}
}

func TestCheckKnowsTheWorkersPythonFloor(t *testing.T) {
	want := fmt.Sprintf("PYTHON_FLOOR = (%d, %d)", minPython[0], minPython[1])
	if !strings.Contains(string(python.Source), want) {
		t.Fatalf("worker.py has no %q: check and the worker disagree on the oldest Python", want)
	}
}

func TestCheckSaysWhenTheInterpreterCannotStart(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCheck(t, nil, "--module", "app", "--socket", "127.0.0.1:0", "--chdir", filepath.Join(dir, "missing"), "--python-bin", "/usr/bin/python3")
	if code != 1 || !strings.Contains(stderr, "could not run /usr/bin/python3") || strings.Contains(stderr, "is Python ;") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}
