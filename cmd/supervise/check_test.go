package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runCheck runs `supervise check ARGS` as a real process (the test binary
// re-executed as main) and returns its exit code, stdout and stderr.
func runCheck(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
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
		{name: "long tail notice says how behaviour differs", args: []string{"--ini", ini("tail.ini", "gevent = 100\nsingle-interpreter = true\n")}, code: 0,
			stderr: []string{"gevent = 100: ignored (differs: ", "single-interpreter = true: ignored ("}},
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
			code, stdout, stderr := runCheck(t, env, append(c.args, "--python-bin", "/bin/sh")...)
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
		code, stdout, stderr := runCheck(t, env, "--ini", filepath.Join(corpus, name+".ini"))
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
	writeFile(t, path, "[uwsgi]\nsocket = "+filepath.Join(dir, "s.sock")+"\nmodule = app:make()\nprocesses = %(%k + 0)\nplugins = python3\n")
	code, stdout, stderr := runCheck(t, []string{"PATH=" + os.Getenv("PATH")}, "--json", "--ini", path, "--python-bin", "/bin/sh")
	var cfg struct {
		Module, Callable string
		Processes        int
		Notices          []string
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &cfg) != nil {
		t.Fatalf("exit %d: %q %q", code, stdout, stderr)
	}
	if cfg.Module != "app" || cfg.Callable != "make()" || cfg.Processes < 1 || len(cfg.Notices) != 1 || !strings.Contains(stderr, "notice: plugins") {
		t.Fatalf("%+v\n%s", cfg, stderr)
	}
}
