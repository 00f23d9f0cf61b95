package config

import (
	"reflect"
	"testing"
)

// uwsgi.opt lists every key read, in order, with its value as written:
// placeholders too, a bare ini key as "", a command-line flag without a
// value as a flag (True in Python), the --ini itself first. Observed on
// uWSGI 2.0.21 with this same ini and command line.
func TestOptIsEveryKeyAsRead(t *testing.T) {
	ini := writeINI(t, "[uwsgi]\nplugins = python3\nmaster = true\nhttp-socket = 127.0.0.1:0\nprocesses = 2\nenv = A=1\nenv = B=2\nvacuum\nmyvar = hello\nset-ph = ph1=x\nlocks = 3\n")
	c := mustLoad(t, []string{"--ini", ini, "--enable-threads", "--processes", "3"})
	want := []OptEntry{
		{Key: "ini", Value: ini}, {Key: "plugins", Value: "python3"}, {Key: "master", Value: "true"},
		{Key: "http-socket", Value: "127.0.0.1:0"}, {Key: "processes", Value: "2"},
		{Key: "env", Value: "A=1"}, {Key: "env", Value: "B=2"}, {Key: "vacuum", Value: ""},
		{Key: "myvar", Value: "hello"}, {Key: "set-ph", Value: "ph1=x"}, {Key: "ph1", Value: "x"}, {Key: "locks", Value: "3"},
		{Key: "enable-threads", Value: "true", Flag: true}, {Key: "processes", Value: "3"},
	}
	if !reflect.DeepEqual(c.Opt, want) {
		t.Fatalf("Opt\n got %+v\nwant %+v", c.Opt, want)
	}
	if c.Magic["n"] != "app" || c.Magic["e"] != "ini" || c.Magic["p"] != ini || c.Magic["%"] != "%" || c.Magic["("] != "%(" {
		t.Fatalf("magic table %q", c.Magic)
	}
	if c.Locks != 3 || c.Processes != 3 {
		t.Fatalf("locks %d processes %d, want 3 and 3", c.Locks, c.Processes)
	}
	if _, err := Load([]string{"--locks", "-1"}, nil); err == nil {
		t.Fatal("locks = -1 was accepted")
	}
}
