package config

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Policies are the options that keep a pool healthy without a human:
// harakiri's graceful step, memory limits and cheaper.
type Policies struct {
	HarakiriGracefulTimeout time.Duration
	HarakiriGracefulSignal  syscall.Signal
	ReloadOnRSS             int // MB
	EvilReloadOnRSS         int // MB
	Cheaper                 int
	CheaperInitial          int
	CheaperStep             int
	CheaperAlgo             string
	CheaperOverload         int
	CheaperBusynessMax      int
	CheaperBusynessMin      int
	CheaperMultiplier       int
}

// CheaperAlgos are cheaper-algo's values.
var CheaperAlgos = []string{"spare", "busyness", "backlog", "manual"}

func defaultPolicies() Policies {
	return Policies{HarakiriGracefulSignal: syscall.SIGTERM, CheaperStep: 1, CheaperAlgo: "spare",
		CheaperOverload: 3, CheaperBusynessMax: 50, CheaperBusynessMin: 25, CheaperMultiplier: 10}
}

func setCheaperAlgo(l *loader, v string) error {
	v = strings.ToLower(strings.TrimSpace(v))
	for _, a := range CheaperAlgos {
		if v == a {
			l.cfg.CheaperAlgo = v
			return nil
		}
	}
	return fmt.Errorf("unknown algorithm; use one of %s", strings.Join(CheaperAlgos, ", "))
}

// setHarakiriSignal takes a number (uWSGI's form) or a name: 10, USR1, SIGUSR1.
func setHarakiriSignal(l *loader, v string) error {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65 {
		l.cfg.HarakiriGracefulSignal = syscall.Signal(n)
		return nil
	}
	name := strings.ToUpper(v)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		l.cfg.HarakiriGracefulSignal = sig
		return nil
	}
	return fmt.Errorf("not a signal (use a number like 15 or a name like SIGTERM)")
}

// checkPolicies reports combinations uWSGI refuses, in words that say
// what to change.
func (l *loader) checkPolicies() []error {
	c := l.cfg
	var errs []error
	if c.ReloadOnRSS < 0 || c.EvilReloadOnRSS < 0 {
		errs = append(errs, fmt.Errorf("reload-on-rss and evil-reload-on-rss are MB and cannot be negative"))
	}
	if c.EvilReloadOnRSS > 0 && c.ReloadOnRSS > 0 && c.EvilReloadOnRSS <= c.ReloadOnRSS {
		l.notice("evil-reload-on-rss", fmt.Sprintf("evil-reload-on-rss = %d is not above reload-on-rss = %d: workers are killed before they can retire gracefully", c.EvilReloadOnRSS, c.ReloadOnRSS))
	}
	if c.Cheaper == 0 {
		return errs
	}
	switch {
	case c.Cheaper < 0:
		errs = append(errs, fmt.Errorf("cheaper = %d: must be 0 (off) or more", c.Cheaper))
	case c.Cheaper >= c.Processes:
		errs = append(errs, fmt.Errorf("cheaper = %d must be lower than processes = %d (processes is the most workers cheaper may run); raise processes or lower cheaper", c.Cheaper, c.Processes))
	}
	if c.CheaperInitial != 0 && (c.CheaperInitial < c.Cheaper || c.CheaperInitial > c.Processes) {
		errs = append(errs, fmt.Errorf("cheaper-initial = %d: must be between cheaper (%d) and processes (%d)", c.CheaperInitial, c.Cheaper, c.Processes))
	}
	if c.CheaperStep < 1 {
		errs = append(errs, fmt.Errorf("cheaper-step = %d: must be at least 1", c.CheaperStep))
	}
	if c.CheaperOverload < 1 && c.CheaperAlgo != "backlog" {
		errs = append(errs, fmt.Errorf("cheaper-overload = %d: must be at least 1", c.CheaperOverload))
	}
	if c.CheaperBusynessMin >= c.CheaperBusynessMax {
		errs = append(errs, fmt.Errorf("cheaper-busyness-min = %d must be below cheaper-busyness-max = %d", c.CheaperBusynessMin, c.CheaperBusynessMax))
	}
	return errs
}
