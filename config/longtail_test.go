package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Every long-tail option says, in its notice, whether behaviour differs;
// a refused one says what to do instead.
func TestLongTailIsHonest(t *testing.T) {
	for _, o := range longTail {
		switch o.Status {
		case Ignored:
			if !strings.HasPrefix(o.Help, "harmless: ") && !strings.HasPrefix(o.Help, "differs: ") {
				t.Errorf("%s: the notice does not say whether behaviour differs: %q", o.Name, o.Help)
			}
		case Refused:
			if !strings.Contains(o.Help, ";") {
				t.Errorf("%s: a refusal must say why and what to do instead: %q", o.Name, o.Help)
			}
		case Works:
			if o.apply == nil {
				t.Errorf("%s works but does nothing", o.Name)
			}
		}
	}
}

func TestLongTailNoticesAndRefusals(t *testing.T) {
	c := mustLoad(t, []string{"--logfile-chmod", "644", "--ugreen", "--procname-prefix", "app-", "--route", "^/old redirect:/new",
		"--route-run", "addheader:X-A: b", "--reaper"})
	if len(c.Notices) != 6 {
		t.Fatalf("want one notice per option, got %q", c.Notices)
	}
	for _, n := range c.Notices {
		if !strings.Contains(n, ": ignored (harmless: ") && !strings.Contains(n, ": ignored (differs: ") {
			t.Errorf("notice does not say whether behaviour differs: %q", n)
		}
	}
	for _, args := range [][]string{
		{"--daemonize", "/var/log/x.log"},
		{"--daemonize2", "/var/log/x.log"},
		{"--emperor", "/etc/uwsgi/vassals"},
		{"--chroot", "/jail"},
		{"--hook-pre-app", "callret:setup_app"},
		{"--call-pre-app", "setup_app"},
		{"--hook-post-fork", "mkdir:/run/x"},
		{"--hook-master-start", "unix_signal:15 my_c_function"},
		{"--legion-cron", "mylegion 0 0 -1 -1 -1 /usr/bin/x"},
		{"--attach-daemon2", "cmd=/usr/bin/x,ns_pid=1"},
		{"--fastcgi-socket", ":9000"},
		{"--route", "^/admin basicauth:Admin,a:b"},
		{"--route-if", "equal:${REMOTE_ADDR};1.2.3.4 break:403 Forbidden"},
		{"--route-run", "ldapauth:LDAP realm"},
		{"--response-route", "^/x return:403"},
		{"--protocol", "fastcgi"},
		{"--socket-protocol", "fastcgi"},
	} {
		_, err := Load(args, nil)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%q: want a refusal, got %v", args, err)
		}
	}
	ini := writeINI(t, "[uwsgi]\nplugins = python3\ndaemonize = /var/log/x.log\n")
	c, err := Load([]string{"--ini", ini}, nil)
	if err == nil || c == nil || len(c.Notices) != 1 {
		t.Fatalf("a refusal in an ini: err %v, notices gathered before it %v", err, c)
	}
}

func TestLongTailThatWorks(t *testing.T) {
	c := mustLoad(t, []string{"--touch-chain-reload", "/a", "--touch-workers-reload", "/b", "--pidfile2", "/run/x.pid", "--print", "hello"})
	if !reflect.DeepEqual(c.TouchReload, []string{"/a", "/b"}) || c.Pidfile != "/run/x.pid" || !reflect.DeepEqual(c.Notices, []string{"hello"}) {
		t.Fatalf("%+v", c)
	}
	c = mustLoad(t, []string{"--pidfile", "/run/a.pid", "--safe-pidfile", "/run/b.pid"})
	if c.Pidfile != "/run/a.pid" || len(c.Notices) != 1 || !strings.Contains(c.Notices[0], "supervise writes one pidfile") {
		t.Fatalf("two pidfiles: %q %q", c.Pidfile, c.Notices)
	}
	// --set and --set-placeholder, then an ini that uses them
	ini := writeINI(t, "[uwsgi]\nstrict = true\nchdir = %(root)/src\nsocket = %(processes)\n")
	c = mustLoad(t, []string{"--set", "processes=3", "--set-placeholder", "root=/srv", "--ini", ini})
	if c.Processes != 3 || c.Chdir != "/srv/src" || c.Sockets[0].Addr != "3" {
		t.Fatalf("set: %+v", c)
	}
	if _, err := Load([]string{"--set-placeholder", "processes=3"}, nil); err == nil {
		t.Fatal("a placeholder named like an option")
	}
}

func TestMoreBlocks(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"a.conf", "b.conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lines := filepath.Join(dir, "paths.txt")
	if err := os.WriteFile(lines, []byte("/srv/one\n/srv/two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ini := writeINI(t, `[uwsgi]
for-glob = `+dir+`/*.conf
touch-reload = %(_)
endfor =
for-glob = `+dir+`/*.nothing
env = NOCHECK=%(_)
endfor =
for-readline = `+lines+`
pythonpath = %(_)
end-for =
if-file = `+lines+`
env = FILE=%(_)
end-if =
if-not-file = `+dir+`
env = NOT_FILE=yes
end =
if-not-exists = `+dir+`/missing
env = MISSING=yes
endif =
if-not-dir = `+lines+`
if-env = OUTER
env = NESTED=%(_)
endif =
endif =
`)
	c := mustLoad(t, []string{"--ini", ini}, "OUTER=inner-value")
	want := []string{"NOCHECK=" + dir + "/*.nothing", "FILE=" + lines, "NOT_FILE=yes", "MISSING=yes", "NESTED=inner-value"}
	if !reflect.DeepEqual(c.TouchReload, []string{dir + "/a.conf", dir + "/b.conf"}) ||
		!reflect.DeepEqual(c.PythonPath, []string{"/srv/one", "/srv/two"}) || !reflect.DeepEqual(c.Env, want) {
		t.Fatalf("touch-reload %q\npythonpath %q\nenv %q", c.TouchReload, c.PythonPath, c.Env)
	}
	for name, text := range map[string]string{
		"if-reload":        "[uwsgi]\nif-reload =\nendif =\n",
		"if-plugin":        "[uwsgi]\nif-not-plugin = python3\nendif =\n",
		"unclosed":         "[uwsgi]\nif-exists = /\n",
		"stray end":        "[uwsgi]\nend =\n",
		"for-readline":     "[uwsgi]\nfor-readline = /nonexistent/file\nendfor =\n",
		"for-times letter": "[uwsgi]\nfor-times = x\nendfor =\n",
		"@(missing file)":  "[uwsgi]\nchdir = @(/nonexistent/file)\n",
		"@(exec://)":       "[uwsgi]\nchdir = @(exec://hostname)\n",
	} {
		if _, err := Load([]string{"--ini", writeINI(t, text)}, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMagicVariableNotices(t *testing.T) {
	ini := writeINI(t, "[uwsgi]\nenv = WHEN=%Y-%m\nenv = HOME=$(NOT_SET_HERE)\n")
	c := mustLoad(t, []string{"--ini", ini})
	if !reflect.DeepEqual(c.Env, []string{"WHEN=-", "HOME=$(NOT_SET_HERE)"}) || len(c.Notices) != 3 {
		t.Fatalf("env %q notices %q", c.Env, c.Notices)
	}
	if !strings.Contains(c.Notices[0], "%Y is not a magic variable") || !strings.Contains(c.Notices[0], "write %%Y") {
		t.Errorf("%q", c.Notices[0])
	}
}

func TestSectionFromLastFileNotice(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other.ini")
	if err := os.WriteFile(other, []byte("[uwsgi]\nthreads = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ini := writeINI(t, "[uwsgi]\nini = "+other+"\nini = :extra\n\n[extra]\nprocesses = 5\n")
	c := mustLoad(t, []string{"--ini", ini})
	if c.Processes != 5 || c.Threads != 2 || len(c.Notices) != 1 || !strings.Contains(c.Notices[0], "uWSGI would look for it in the last file read") {
		t.Fatalf("%d %d %q", c.Processes, c.Threads, c.Notices)
	}
}

func TestFileContentExpansion(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "value.txt")
	if err := os.WriteFile(path, []byte("/srv/app\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, []string{"--ini", writeINI(t, "[uwsgi]\nchdir = @("+path+")\n")})
	if c.Chdir != "/srv/app\n" { // uWSGI strips one newline
		t.Fatalf("chdir %q", c.Chdir)
	}
}
