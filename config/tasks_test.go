package config

import (
	"strings"
	"testing"
	"time"
)

func TestCronMatchesUWSGISchedules(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		line string
		when string
		want bool
	}{
		{"-1 -1 -1 -1 -1 x", "2026-11-30 07:13", true},  // every minute
		{"-5 -1 -1 -1 -1 x", "2026-11-30 07:15", true},  // every 5 minutes
		{"-5 -1 -1 -1 -1 x", "2026-11-30 07:13", false}, //
		{"30 2 -1 -1 -1 x", "2026-11-30 02:30", true},   // daily at 02:30
		{"30 2 -1 -1 -1 x", "2026-11-30 03:30", false},  //
		{"0 0 1 -1 -1 x", "2026-12-01 00:00", true},     // first of the month
		{"0 0 -1 -1 0 x", "2026-11-29 00:00", true},     // Sunday (0)
		{"0 0 -1 -1 7 x", "2026-11-29 00:00", true},     // Sunday as 7
		{"0 0 -1 -1 1 x", "2026-11-29 00:00", false},    // Monday only
		{"0 0 15 -1 1 x", "2026-11-30 00:00", true},     // day and weekday both set: either (Monday)
		{"0 0 15 -1 1 x", "2026-11-15 00:00", true},     // (the 15th, a Sunday)
		{"0 0 15 -1 1 x", "2026-11-17 00:00", false},    //
		{"0 -2 -1 -1 -1 x", "2026-11-30 04:00", true},   // every 2 hours
		{"0 -2 -1 -1 -1 x", "2026-11-30 05:00", false},  //
		{"0 0 1 -3 -1 x", "2026-12-01 00:00", true},     // every third month (12 % 3)
		{"0 0 1 -3 -1 x", "2026-11-01 00:00", false},    //
	} {
		j, err := parseCron(c.line)
		if err != nil {
			t.Fatalf("%s: %v", c.line, err)
		}
		if got := j.Matches(at(c.when)); got != c.want {
			t.Errorf("cron %q at %s: %v, want %v", c.line, c.when, got, c.want)
		}
	}
}

func TestCronOptionsLoad(t *testing.T) {
	c, err := Load([]string{"--cron", "-5 -1 -1 -1 -1 echo  a b", "--unique-cron", "0 3 -1 -1 -1 /usr/bin/backup",
		"--cron2", "minute=-10,unique=1,harakiri=30 /usr/bin/x --y", "--cron2", "/usr/bin/every-minute", "--cron-harakiri", "5"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobs := c.CronJobs()
	if len(jobs) != 4 {
		t.Fatalf("%d jobs", len(jobs))
	}
	if j := jobs[0]; j.Minute != -5 || j.Command != "echo  a b" || j.Unique || j.Harakiri != 5*time.Second {
		t.Errorf("cron: %+v", j)
	}
	if j := jobs[1]; !j.Unique || j.Hour != 3 || j.Minute != 0 {
		t.Errorf("unique-cron: %+v", j)
	}
	if j := jobs[2]; j.Minute != -10 || j.Hour != -1 || !j.Unique || j.Harakiri != 30*time.Second || j.Command != "/usr/bin/x --y" {
		t.Errorf("cron2: %+v", j)
	}
	if j := jobs[3]; j.Minute != -1 || j.Command != "/usr/bin/every-minute" || j.Harakiri != 5*time.Second {
		t.Errorf("cron2 without keys: %+v", j)
	}
	for _, bad := range [][]string{
		{"--cron", "*/5 * * * * x"}, {"--cron", "61 -1 -1 -1 -1 x"}, {"--cron", "-1 -1 -1 -1"},
		{"--cron2", "minute=5"}, {"--cron2", "legion=a,minute=1 x"}, {"--cron2", "minute=x x"}, {"--cron2", "color=1 x"},
	} {
		if _, err := Load(bad, nil); err == nil {
			t.Errorf("%q: loaded", bad)
		}
	}
}

func TestHookOptionsLoadInUWSGIOrder(t *testing.T) {
	c, err := Load([]string{"--exec-pre-app", "touch a", "--hook-pre-app", "mkdir:/tmp/x", "--hook-pre-app", "!write:/tmp/x/s secret",
		"--hook-master-start", "unix_signal:15 gracefully_kill_them_all"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := c.HookList(PhasePreApp)
	if len(got) != 3 || got[0].Action != "mkdir" || got[1].Action != "write" || !got[1].Private || got[2].Action != "exec" || got[2].Arg != "touch a" {
		t.Fatalf("pre-app: %+v (want hook- actions, then exec-)", got)
	}
	if got[1].String() == "write:/tmp/x/s secret" {
		t.Fatal("a private hook shows its argument")
	}
	if ms := c.HookList(PhaseMasterStart); len(ms) != 1 || ms[0].Action != "unix_signal" {
		t.Fatalf("master-start: %+v", ms)
	}
	for _, bad := range [][]string{
		{"--hook-asap", "frobnicate:x"}, {"--hook-asap", "mkdir"}, {"--hook-asap", "chmod:/x rwx"},
		{"--hook-asap", "write:/x"}, {"--hook-accepting", "unix_signal:15 gracefully_kill_them_all"},
		{"--hook-asap", "chown2:/x a b"}, {"--hook-asap", "mount:proc none /proc"}, {"--hook-asap", "putenv:novalue"},
	} {
		if _, err := Load(bad, nil); err == nil {
			t.Errorf("%q: loaded", bad)
		}
	}
}

func TestDaemonOptionsLoad(t *testing.T) {
	c, err := Load([]string{"--attach-daemon2", `cmd=sh -c 'a\, b',stopsignal=2,reloadsignal=1,control=1,touch=/a;/b,stdin=1,chdir=/tmp`,
		"--smart-attach-daemon", "/run/x.pid,3 /usr/sbin/x -d", "--smart-attach-daemon2", "/run/y.pid y --fg"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ds := c.DaemonList()
	if len(ds) != 3 {
		t.Fatalf("%d daemons", len(ds))
	}
	if d := ds[0]; d.Command != "sh -c 'a, b'" || d.StopSignal != 2 || d.ReloadSignal != 1 || !d.Control || len(d.Touch) != 2 || !d.Stdin || d.Chdir != "/tmp" || d.Pidfile != "" {
		t.Errorf("attach-daemon2: %+v", d)
	}
	if d := ds[1]; d.Pidfile != "/run/x.pid" || d.Freq != 3 || d.Daemonize || d.Command != "/usr/sbin/x -d" {
		t.Errorf("smart-attach-daemon: %+v", d)
	}
	if d := ds[2]; d.Pidfile != "/run/y.pid" || !d.Daemonize || d.Freq != 10 {
		t.Errorf("smart-attach-daemon2: %+v", d)
	}
	for _, bad := range [][]string{{"--attach-daemon2", "pidfile=/x"}, {"--attach-daemon2", "cmd=x,ns_pid=1"}, {"--attach-daemon2", "cmd=x,daemonize=1"},
		{"--smart-attach-daemon", "/run/x.pid"}, {"--legion", "a 225.1.1.1:4242 90 bf-cbc:secret"}} {
		if _, err := Load(bad, nil); err == nil || (bad[0] == "--legion" && !strings.Contains(err.Error(), "refused")) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
