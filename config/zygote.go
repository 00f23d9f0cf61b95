package config

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
)

// Preload is how Python workers get the app: imported once per
// generation by a zygote the workers fork from (uWSGI's default), or by
// every worker itself (lazy-apps).
type Preload struct {
	// LazyApps: every worker imports the app itself (lazy-apps, lazy).
	LazyApps bool
	// Warmup: paths the zygote GETs from the app before forking
	// (preload-warmup).
	Warmup []string
	// CallOSAfterFork: the zygote forks the workers with os.fork(), so
	// CPython's after-fork work and the os.register_at_fork callbacks run
	// in each (py-call-osafterfork); by default a bare fork(2), as uWSGI.
	CallOSAfterFork bool
	// ReloadForkWidth: how many workers a graceful reload forks from the
	// new zygote at a time, 0 for all at once (reload-fork-width).
	ReloadForkWidth int
}

// DefaultReloadForkWidth is half the CPUs, at least one: the rest keep
// serving while a reload's new workers copy the pages they write.
func DefaultReloadForkWidth() int { return max(1, runtime.NumCPU()/2) }

var _ = addOptions(
	works("lazy-apps", []string{"lazy"}, Bool, "false",
		"import the app in every worker instead of once per generation in a zygote the workers fork from "+
			"(more memory, slower respawns; for apps that cannot be forked after import)",
		boolean(func(c *Config) *bool { return &c.Preload.LazyApps })),
	works("preload-warmup", nil, List, "",
		"supervise's own: a path (/path?query) the zygote GETs from the app 10 times before forking the workers, "+
			"so what the app builds on its first requests (URL resolver, templates) and CPython's specialized "+
			"bytecode are shared by every worker instead of built in each; repeatable; no effect with lazy-apps",
		addWarmup),
	works("py-call-osafterfork", nil, Bool, "false",
		"fork each worker from the zygote with os.fork(), so CPython's after-fork work runs in it: the os.register_at_fork "+
			"callbacks of the app and the standard library (threading, logging, random's reseed); by default, as in uWSGI, "+
			"a bare fork(2) without them, so each worker writes less memory after the fork (each worker still gets its own "+
			"random seed, and @postfork / uwsgi.post_fork_hook always run); no effect with lazy-apps",
		boolean(func(c *Config) *bool { return &c.Preload.CallOSAfterFork })),
	works("reload-fork-width", nil, Int, "",
		"supervise's own: how many workers a graceful reload (or an upgrade) forks from the new zygote at a time, "+
			"the next once an earlier one has served a request or 200 ms after its READY=1, so the pages new workers "+
			"copy after the fork do not land in one burst on the cores that serve; default half the CPUs (at least 1); "+
			"0 forks them all at once; no effect with lazy-apps",
		setReloadForkWidth),
)

func setReloadForkWidth(l *loader, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a number of workers: give 1 or more, or 0 for all at once", v)
	}
	l.cfg.Preload.ReloadForkWidth = n
	return nil
}

func addWarmup(l *loader, v string) error {
	v = strings.TrimSpace(v)
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "\n ") {
		return fmt.Errorf("%q is not a path: give one like /admin/login/ or /search?q=x", v)
	}
	l.cfg.Preload.Warmup = append(l.cfg.Preload.Warmup, v)
	return nil
}
