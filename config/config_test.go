package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeINI(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.ini")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, args []string, env ...string) *Config {
	t.Helper()
	c, err := Load(args, env)
	if err != nil {
		t.Fatalf("Load(%q): %v", args, err)
	}
	return c
}

func TestSeedINI(t *testing.T) {
	c := mustLoad(t, []string{"--ini", "testdata/seed-myapp.ini"})
	want := &Config{Module: "app", Callable: "app", Sockets: []Socket{{Addr: "/tmp/uwsgi.sock", Proto: "uwsgi"}},
		ChmodSocket: 0o666, Processes: 4, Threads: 2}
	if c.Module != want.Module || c.Callable != want.Callable || !reflect.DeepEqual(c.Sockets, want.Sockets) ||
		c.ChmodSocket != want.ChmodSocket || c.Processes != want.Processes || c.Threads != want.Threads {
		t.Fatalf("got %+v", c)
	}
	if len(c.Notices) != 0 {
		t.Fatalf("the seed ini needs no notice, got %q", c.Notices)
	}
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, nil)
	if c.Processes != 1 || c.Threads != 1 || c.Listen != 100 || c.BufferSize != 4096 ||
		c.Callable != "application" || c.WorkerReloadMercy != 60*time.Second {
		t.Fatalf("defaults %+v", c)
	}
}

func TestFlagsOverrideInOrder(t *testing.T) {
	ini := writeINI(t, "[uwsgi]\nprocesses = 4\nthreads = 2\n")
	if c := mustLoad(t, []string{"--ini", ini, "--processes", "8"}); c.Processes != 8 {
		t.Fatalf("flag after --ini: processes %d, want 8", c.Processes)
	}
	if c := mustLoad(t, []string{"--processes", "8", "--ini", ini}); c.Processes != 4 {
		t.Fatalf("flag before --ini: processes %d, want the file's 4", c.Processes)
	}
	if c := mustLoad(t, []string{ini, "--threads=3"}); c.Threads != 3 || c.Processes != 4 {
		t.Fatalf("positional ini: %+v", c)
	}
}

func TestFlagForms(t *testing.T) {
	c := mustLoad(t, []string{"-s", "/a.sock", "--http-socket=:8000", "-p", "3", "--vacuum", "--master",
		"--need-app", "false", "--chmod-socket", "--env", "A=1", "--env", "B=2", "-w", "pkg.wsgi:app",
		"--home", "/venv", "--pythonpath", "/x", "--pythonpath", "/y", "--buffer-size", "32768",
		"--disable-logging", "--logto", "/tmp/log", "--listen", "64", "--die-on-term", "--pidfile", "/p"})
	want := Config{Sockets: []Socket{{Addr: "/a.sock", Proto: "uwsgi"}, {Addr: ":8000", Proto: "http"}}, Processes: 3, Vacuum: true,
		NeedApp: false, ChmodSocket: 0o666, Env: []string{"A=1", "B=2"}, Module: "pkg.wsgi", Callable: "app",
		Home: "/venv", PythonPath: []string{"/x", "/y"}, BufferSize: 32768, DisableLogging: true,
		Logto: "/tmp/log", Listen: 64, Pidfile: "/p"}
	got := Config{Sockets: c.Sockets, Processes: c.Processes, Vacuum: c.Vacuum, NeedApp: c.NeedApp,
		ChmodSocket: c.ChmodSocket, Env: c.Env, Module: c.Module, Callable: c.Callable, Home: c.Home,
		PythonPath: c.PythonPath, BufferSize: c.BufferSize, DisableLogging: c.DisableLogging,
		Logto: c.Logto, Listen: c.Listen, Pidfile: c.Pidfile}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

func TestExecAfterDoubleDash(t *testing.T) {
	c := mustLoad(t, []string{"--socket", ":3031", "--", "./myapp", "--its-flag", "x"})
	if !reflect.DeepEqual(c.Exec, []string{"./myapp", "--its-flag", "x"}) {
		t.Fatalf("exec %q", c.Exec)
	}
	c = mustLoad(t, []string{"--exec", `./myapp --name "two words"`})
	if !reflect.DeepEqual(c.Exec, []string{"./myapp", "--name", "two words"}) {
		t.Fatalf("exec %q", c.Exec)
	}
}

func TestINISyntax(t *testing.T) {
	ini := writeINI(t, `; comment
# another
[other]
processes = 9
[uwsgi]
vacuum
master = True
processes = 2
processes = 3
socket = %d%n.sock
http-socket = 127.0.0.1:8000
env = HOME_DIR=$(HOME)
env = X=100%%
base = /srv/app
chdir = %(base)/src
pidfile = %p.pid
`)
	c := mustLoad(t, []string{"--ini", ini}, "HOME=/home/me")
	dir := filepath.Dir(ini) + "/"
	switch {
	case !c.Vacuum:
		t.Error("bare key is not true")
	case c.Processes != 3:
		t.Errorf("last wins: processes %d", c.Processes)
	case !reflect.DeepEqual(c.Sockets, []Socket{{Addr: dir + "app.sock", Proto: "uwsgi"}, {Addr: "127.0.0.1:8000", Proto: "http"}}):
		t.Errorf("sockets %v", c.Sockets)
	case !reflect.DeepEqual(c.Env, []string{"HOME_DIR=/home/me", "X=100%"}):
		t.Errorf("env %v", c.Env)
	case c.Chdir != "/srv/app/src":
		t.Errorf("placeholder: chdir %q", c.Chdir)
	case c.Pidfile != ini+".pid":
		t.Errorf("%%p: pidfile %q", c.Pidfile)
	}
	c = mustLoad(t, []string{"--ini", ini + ":other"})
	if c.Processes != 9 {
		t.Errorf("section other: processes %d", c.Processes)
	}
}

func TestBooleans(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "True": true, "yes": true, "on": true, "1": true,
		"false": false, "False": false, "no": false, "off": false, "0": false} {
		c := mustLoad(t, []string{"--ini", writeINI(t, "[uwsgi]\nvacuum = "+v+"\n")})
		if c.Vacuum != want {
			t.Errorf("vacuum = %s read as %v", v, c.Vacuum)
		}
	}
	_, err := Load([]string{"--ini", writeINI(t, "[uwsgi]\nvacuum = maybe\n")}, nil)
	if err == nil || !strings.Contains(err.Error(), "vacuum") || !strings.Contains(err.Error(), "maybe") {
		t.Fatalf("bad boolean: %v", err)
	}
}

func TestEnvironment(t *testing.T) {
	c := mustLoad(t, []string{"--threads", "5"}, "UWSGI_PROCESSES=6", "SUPERVISE_THREADS=2",
		"SUPERVISE_WORKER_ID=3", "UWSGI_NOT_AN_OPTION=1", "SUPERVISE_PYTHON_BIN=/usr/bin/python3")
	if c.Processes != 6 || c.Threads != 5 || c.PythonBin != "/usr/bin/python3" {
		t.Fatalf("env: %+v", c)
	}
	if len(c.Notices) != 0 {
		t.Fatalf("contract variables produced notices: %q", c.Notices)
	}
}

func TestAliases(t *testing.T) {
	ini := writeINI(t, "[uwsgi]\nworkers = 3\nvirtualenv = /v\nfile = app.py\nuwsgi-socket = /s.sock\n")
	c := mustLoad(t, []string{"--ini", ini})
	if c.Processes != 3 || c.Home != "/v" || c.WSGIFile != "app.py" || c.Sockets[0].Addr != "/s.sock" {
		t.Fatalf("%+v", c)
	}
	for _, alias := range []string{"venv", "pyhome", "home"} {
		if c := mustLoad(t, []string{"--" + alias, "/x"}); c.Home != "/x" {
			t.Errorf("--%s", alias)
		}
	}
	if c := mustLoad(t, []string{"--ini", writeINI(t, "[uwsgi]\nmodule = a.b\n")}); c.Module != "a.b" || c.Callable != "application" {
		t.Errorf("bare module: %+v", c)
	}
	if c := mustLoad(t, []string{"--module", "a:make()"}); c.Callable != "make()" {
		t.Errorf("factory: %q", c.Callable)
	}
}

func TestIgnoredOptionsGiveOneNoticeEach(t *testing.T) {
	ini := writeINI(t, "[uwsgi]\nplugins = python3\nplugin = logfile\nenable-threads = true\nthunder-lock\nsingle-interpreter = true\n")
	c := mustLoad(t, []string{"--ini", ini})
	joined := strings.Join(c.Notices, "\n")
	if len(c.Notices) != 4 {
		t.Fatalf("notices %q, want one each for plugins, enable-threads, thunder-lock, single-interpreter", c.Notices)
	}
	for _, want := range []string{"plugins = python3: ignored", "enable-threads", "thunder-lock", "single-interpreter = true: ignored"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no notice containing %q in %q", want, joined)
		}
	}
}

func TestMasterAndDieOnTermFalseAreExplained(t *testing.T) {
	c := mustLoad(t, []string{"--ini", writeINI(t, "[uwsgi]\nmaster = false\ndie-on-term = false\n")})
	if len(c.Notices) != 2 {
		t.Fatalf("notices %q", c.Notices)
	}
}

func TestHTTPFrontEndOptions(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, nil, 0o600)
	os.WriteFile(key, nil, 0o600)
	c := mustLoad(t, []string{"--http", ":9090", "--https", "127.0.0.1:9443," + cert + "," + key, "--static-map", "/s=/srv/static",
		"--post-buffering", "8192", "--http-timeout", "5", "--http-to", "/run/app.sock", "--http-workers", "3"})
	want := []Socket{{Addr: ":9090", Proto: ProtoHTTPRouter}, {Addr: "127.0.0.1:9443", Proto: ProtoHTTPSRouter, Cert: cert, Key: key}}
	if !reflect.DeepEqual(c.Sockets, want) || len(c.Notices) != 0 {
		t.Fatalf("sockets %+v notices %q", c.Sockets, c.Notices)
	}
	if r := c.Router; !reflect.DeepEqual(r.StaticMap, []string{"/s=/srv/static"}) || r.PostBuffering != 8192 ||
		r.HTTPTimeout != 5*time.Second || !reflect.DeepEqual(r.HTTPTo, []string{"/run/app.sock"}) || r.Processes != 3 {
		t.Fatalf("router %+v", r)
	}
	out := Render(c)
	for _, line := range []string{"http = :9090\n", "https = 127.0.0.1:9443," + cert + "," + key + "\n", "static-map = /s=/srv/static\n", "http-timeout = 5\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("check output lacks %q:\n%s", line, out)
		}
	}
	for args, want := range map[string]string{
		"--https :9443":                     "write https = ADDR,CERT.pem,KEY.pem",
		"--https :9443,/nope.pem,/nope.key": "https = :9443: stat /nope.pem",
		"--http /tmp/x.sock":                "the front end listens on host:port",
		"--http :80 --static-map static":    "write static-map = /URL=DIR",
		"--http :80 --http-processes -1":    "http-processes = -1: want 1 or more",
	} {
		if _, err := Load(strings.Fields(args), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", args, err, want)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	ini := writeINI(t, "[uwsgi]\nvacum = true\nmy_var = 1\n")
	c := mustLoad(t, []string{"--ini", ini})
	if len(c.Notices) != 1 || !strings.Contains(c.Notices[0], "vacum: not an option; did you mean vacuum?") {
		t.Fatalf("notices %q", c.Notices)
	}
	_, err := Load([]string{"--ini", writeINI(t, "[uwsgi]\nstrict = true\nvacum = true\n")}, nil)
	if err == nil || !strings.Contains(err.Error(), "vacum") {
		t.Fatalf("strict: %v", err)
	}
	used := writeINI(t, "[uwsgi]\nstrict = true\nsockdir = /run\nsocket = %(sockdir)/a.sock\n")
	if c := mustLoad(t, []string{"--ini", used}); c.Sockets[0].Addr != "/run/a.sock" {
		t.Fatalf("a referenced placeholder under strict: %v", c.Sockets)
	}
}

func TestBadInput(t *testing.T) {
	cases := map[string][]string{
		"unknown flag":      {"--proceses", "4"},
		"missing value":     {"--processes"},
		"not a number":      {"--processes", "four"},
		"zero processes":    {"--processes", "0"},
		"negative threads":  {"--threads", "-1"},
		"buffer negative":   {"--buffer-size", "-1"},
		"missing ini":       {"--ini", "/nonexistent/app.ini"},
		"missing section":   {"--ini", "testdata/seed-myapp.ini:nope"},
		"stray argument":    {"hello"},
		"bad env":           {"--env", "NOEQUALS"},
		"bad mode":          {"--chmod-socket=999"},
		"exec and module":   {"--module", "app", "--", "./bin"},
		"empty socket":      {"--socket="},
		"unclosed quote":    {"--exec", `./x "oops`},
		"bad mercy seconds": {"--worker-reload-mercy", "soon"},
	}
	for name, args := range cases {
		if _, err := Load(args, nil); err == nil {
			t.Errorf("%s: %q loaded without error", name, args)
		}
	}
	_, err := Load([]string{"--proceses", "4"}, nil)
	var usage *UsageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "did you mean --processes?") {
		t.Fatalf("unknown flag: %v", err)
	}
	if _, err := Load([]string{"--zzzzzzzz"}, nil); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Fatalf("no suggestion expected for nonsense: %v", err)
	}
}

func TestOptionsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, o := range Options() {
		for _, n := range append([]string{o.Name}, o.Aliases...) {
			if seen[n] {
				t.Errorf("%s is listed twice", n)
			}
			seen[n] = true
		}
		if o.Help == "" || (o.Status != Works && o.Status != Ignored && o.Status != Refused) {
			t.Errorf("%s: help %q status %q", o.Name, o.Help, o.Status)
		}
	}
}

func FuzzParseINI(f *testing.F) {
	seed, _ := os.ReadFile("testdata/seed-myapp.ini")
	f.Add(seed)
	f.Add([]byte("[uwsgi]\nsocket = %d%n.sock\nenv = $(HOME\nx = %(y\n"))
	corpus, _ := filepath.Glob("testdata/ini/*.ini")
	for _, path := range corpus {
		if raw, err := os.ReadFile(path); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pairs, _, err := ParseINI(data, "uwsgi")
		if err != nil {
			return
		}
		var kept []Pair
		for _, p := range pairs {
			if p.Key == "" {
				t.Fatal("empty key")
			}
			switch { // no reading of files named by the input
			case p.Key == "ini", p.Key == "for-readline", p.Key == "for-glob", strings.Contains(p.Value, "@("):
				continue
			}
			kept = append(kept, p)
		}
		l := newLoader([]string{"HOME=/home/fuzz"})
		l.cpus = 4
		vars := fileVars{dir: "/d/", name: "n", path: "/d/n.ini", given: "n.ini"}
		if l.readPairs("fuzz", kept, vars, nil) == nil {
			_ = l.applyPending()
		}
		_ = l.finish()
	})
}

func TestINIBlocksAndSections(t *testing.T) {
	ini := writeINI(t, `[base]
processes = 3
chdir = /srv/base

[uwsgi]
ini = :base
if-env = DEPLOY_ENV
env = DEPLOY=%(_)
endif =
if-not-env = NO_SUCH_VARIABLE_HERE
threads = 4
endif =
if-env = NO_SUCH_VARIABLE_HERE
threads = 99
endif =
for = 8001 8002
http-socket = 127.0.0.1:%(_)
endfor =
socket = /run/app.sock # the main socket
`)
	c := mustLoad(t, []string{"--ini", ini}, "DEPLOY_ENV=prod")
	switch {
	case c.Processes != 3 || c.Chdir != "/srv/base":
		t.Errorf("ini = :base not read: %+v", c)
	case !reflect.DeepEqual(c.Env, []string{"DEPLOY=prod"}):
		t.Errorf("if-env block: env %v", c.Env)
	case c.Threads != 4:
		t.Errorf("if-not-env / false if-env: threads %d", c.Threads)
	case len(c.Sockets) != 3 || c.Sockets[0] != (Socket{Addr: "127.0.0.1:8001", Proto: "http"}) || c.Sockets[1] != (Socket{Addr: "127.0.0.1:8002", Proto: "http"}):
		t.Errorf("for block: sockets %v", c.Sockets)
	case c.Sockets[2].Addr != "/run/app.sock # the main socket":
		t.Errorf("inline comment: uWSGI keeps it in the value; got %q", c.Sockets[2].Addr)
	}
	found := false
	for _, n := range c.Notices {
		found = found || strings.Contains(n, "comment included, as uWSGI reads it")
	}
	if !found {
		t.Errorf("no notice for the inline comment: %q", c.Notices)
	}
	for name, text := range map[string]string{
		"endif without if":   "[uwsgi]\nendif =\n",
		"if without endif":   "[uwsgi]\nif-env = HOME\n",
		"for without endfor": "[uwsgi]\nfor = a b\n",
		"endfor without for": "[uwsgi]\nendfor =\n",
		"missing section":    "[uwsgi]\nini = :nope\n",
	} {
		if _, err := Load([]string{"--ini", writeINI(t, text)}, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
