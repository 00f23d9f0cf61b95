package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Mules with Debian's uwsgidecorators: @mulefunc(1) runs in mule 1
// (mule_msg_hook), @mulemsg(2) loops on mule_get_msg() in mule 2,
// @farm("f") on farm_get_msg() in mule 3, @mule(4) runs once in mule 4
// (a `mule = script.py` mule, whose script then runs); a mule that
// exits is respawned and the next message reaches the new one; stats
// list the mules.
func TestMules(t *testing.T) {
	parallel(t)
	script := "import os, time, uwsgi\n" +
		"with open(os.path.join(os.environ['OUT'], 'script'), 'a') as f:\n    f.write('%d %d\\n' % (os.getpid(), uwsgi.mule_id()))\n" +
		"time.sleep(3600)\n"
	a := startSpoolAppWith(t, map[string]string{"mulescript.py": script}, "mules = 3\nmule = mulescript.py\nfarm = f:3\n")
	a.m.waitLog(`mule ready`, 4)
	st := readStats(t, a.stats)
	pids := map[int]int{}
	for _, m := range st.Mules {
		pids[m.ID] = m.PID
	}
	if len(st.Mules) != 4 || pids[1] == 0 || pids[4] == 0 {
		t.Fatalf("stats mules %+v; want 4 with pids", st.Mules)
	}
	r := a.get(t, "/mulefunc?n=a")
	if r.MuleID != 0 {
		t.Errorf("a worker's mule_id() = %d, want 0", r.MuleID)
	}
	want := fmt.Sprintf("[spooler1=%d mule1=%d mule2=%d mule3=%d mule4=%d]", st.Spoolers[0].PID, pids[1], pids[2], pids[3], pids[4])
	if fmt.Sprint(r.Targets) != want {
		t.Errorf("signal targets %v, want %s", r.Targets, want)
	}
	check := func(name, want string, pid int) {
		t.Helper()
		got := waitLines(t, a.out, name, 1)
		f := strings.Fields(got[0])
		if len(got) != 1 || len(f) != 2 || f[1] != want || (pid != 0 && f[0] != itoa(pid)) {
			t.Errorf("%s: %q; want one line from mule %s (pid %d)", name, got, want, pid)
		}
	}
	check("mulefunc-a", "1", pids[1])
	if r := a.get(t, "/mulemsg?id=2&n=b"); r.Sent == nil || !*r.Sent {
		t.Errorf("mule_msg(msg, 2) returned %v, want True", r.Sent)
	}
	check("mulemsg-b", "2", pids[2])
	a.get(t, "/farm?n=c")
	check("farm-c", "3", pids[3])
	check("mule4", "4", pids[4])
	check("script", "4", pids[4]) // after @mule(4) returned

	// mule 1 exits on this message; the master starts another, which
	// takes the next message
	a.get(t, "/mulefunc?n=crash")
	a.m.waitLog(`daemon exited; restarting it.*mule 1 .*exit code 3`, 1)
	a.m.waitLog(`mule ready: id=1`, 2)
	a.get(t, "/mulefunc?n=d")
	got := waitLines(t, a.out, "mulefunc-d", 1)
	if strings.Fields(got[0])[0] == itoa(pids[1]) {
		t.Errorf("the message after the crash reached the dead mule's pid")
	}
	st = readStats(t, a.stats)
	for _, m := range st.Mules {
		if m.ID == 1 && (m.RespawnCount != 2 || m.PID == pids[1] || m.PID == 0) {
			t.Errorf("stats mule 1 %+v; want respawn_count 2 and a new pid", m)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// uWSGI signals reach mules and spoolers by their targets (uwsgi_signals
// service roles): @signal(20, target="mule2") runs in mule 2 only,
// @signal(21, target="spooler") in the spooler process, and
// @signal(22, target="workers") in both workers and in no mule or
// spooler.
func TestSignalsReachMulesAndSpoolers(t *testing.T) {
	parallel(t)
	a := startSpoolAppWith(t, nil, "mules = 2\n")
	a.m.waitLog(`mule ready`, 2)
	st := readStats(t, a.stats)
	var mule2 int
	for _, m := range st.Mules {
		if m.ID == 2 {
			mule2 = m.PID
		}
	}
	if mule2 == 0 || len(st.Spoolers) != 1 || st.Spoolers[0].PID == 0 {
		t.Fatalf("stats mules %+v spoolers %+v: want mule 2 and a spooler with pids", st.Mules, st.Spoolers)
	}
	a.get(t, "/signal?n=20")
	if got := waitLines(t, a.out, "sig-20", 1); len(got) != 1 || got[0] != fmt.Sprintf("%d mule=2 spooler=None", mule2) {
		t.Errorf("signal 20 (target mule2) ran as %q; want once in mule 2 (pid %d)", got, mule2)
	}
	a.get(t, "/signal?n=21")
	got := waitLines(t, a.out, "sig-21", 1)
	if len(got) != 1 || strings.Fields(got[0])[0] != itoa(st.Spoolers[0].PID) {
		t.Errorf("signal 21 (target spooler) ran as %q; want once in the spooler (pid %d)", got, st.Spoolers[0].PID)
	}
	a.get(t, "/signal?n=22")
	got = waitLines(t, a.out, "sig-22", 2)
	pids := map[string]bool{}
	for _, line := range got {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "mule=0" || f[2] != "spooler=None" {
			t.Errorf("signal 22 (target workers) ran in %q; want workers only", line)
		}
		pids[f[0]] = true
	}
	if len(pids) != 2 {
		t.Errorf("signal 22 ran in %v; want both workers once", got)
	}
}
