package config

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestPoliciesFromINI(t *testing.T) {
	ini := writeINI(t, `[uwsgi]
processes = 8
cheaper = 2
cheaper-initial = 4
cheaper-step = 2
cheaper-algo = busyness
cheaper-overload = 5
cheaper-busyness-max = 70
cheaper-busyness-min = 20
cheaper-busyness-multiplier = 3
reload-on-rss = 300
evil-reload-on-rss = 500
min-worker-lifetime = 30
harakiri = 20
harakiri-graceful-timeout = 5
harakiri-graceful-signal = 10
`)
	c := mustLoad(t, []string{"--ini", ini})
	want := Policies{HarakiriGracefulTimeout: 5 * time.Second, HarakiriGracefulSignal: syscall.SIGUSR1,
		ReloadOnRSS: 300, EvilReloadOnRSS: 500, Cheaper: 2, CheaperInitial: 4, CheaperStep: 2,
		CheaperAlgo: "busyness", CheaperOverload: 5, CheaperBusynessMax: 70, CheaperBusynessMin: 20, CheaperMultiplier: 3}
	if c.Policies != want {
		t.Fatalf("policies\n got %+v\nwant %+v", c.Policies, want)
	}
	if c.MinWorkerLifetime != 30*time.Second {
		t.Fatalf("min-worker-lifetime %v", c.MinWorkerLifetime)
	}
	if d := mustLoad(t, nil); d.Policies != defaultPolicies() || d.MinWorkerLifetime != 10*time.Second {
		t.Fatalf("defaults %+v", d.Policies)
	}
	if s := mustLoad(t, []string{"--harakiri-graceful-signal", "usr2"}); s.HarakiriGracefulSignal != syscall.SIGUSR2 {
		t.Fatalf("signal by name: %v", s.HarakiriGracefulSignal)
	}
}

func TestPolicyErrorsSayWhatToChange(t *testing.T) {
	for args, want := range map[string]string{
		"--processes 4 --cheaper 4":                           "cheaper = 4 must be lower than processes = 4",
		"--processes 4 --cheaper 1 --cheaper-initial 6":       "cheaper-initial = 6: must be between cheaper (1) and processes (4)",
		"--processes 4 --cheaper 1 --cheaper-algo fast":       "unknown algorithm; use one of spare, busyness, backlog, manual",
		"--processes 4 --cheaper 1 --cheaper-step 0":          "cheaper-step = 0: must be at least 1",
		"--harakiri-graceful-signal SIGNOPE":                  "not a signal",
		"--processes 4 --cheaper 1 --cheaper-busyness-min 60": "cheaper-busyness-min = 60 must be below cheaper-busyness-max = 50",
	} {
		_, err := Load(strings.Fields(args), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", args, err, want)
		}
	}
	c := mustLoad(t, []string{"--reload-on-rss", "500", "--evil-reload-on-rss", "400"})
	if !strings.Contains(strings.Join(c.Notices, "\n"), "killed before they can retire gracefully") {
		t.Fatalf("no notice for evil-reload-on-rss below reload-on-rss: %q", c.Notices)
	}
}
