package config

import "fmt"

// Async is how a Python worker serves many requests at once without a
// thread for each: an ASGI app on an asyncio loop, or a WSGI app on gevent.
// Its fields are named after their options (config/render.go).
type AsyncEngines struct {
	ASGI                   string // asgi: module:attr of an ASGI app
	ASGILoop               string // asgi-loop: "" (auto), asyncio, uvloop
	Async                  int    // async: connections an ASGI worker holds at once (0: DefaultASGICores)
	Gevent                 int    // gevent: requests a gevent worker serves at once (0: off)
	GeventMonkeyPatch      bool   // gevent-monkey-patch: patch_all after the app is imported
	GeventEarlyMonkeyPatch bool   // gevent-early-monkey-patch: patch_all before
}

// DefaultASGICores is the connections an ASGI worker holds at once when
// async is not set.
const DefaultASGICores = 100

var _ = addOptions(
	works("asgi", nil, String, "", "serve this ASGI app (module:attr, attr defaults to app; attr() calls a factory) with an asyncio loop in each worker, over the uwsgi protocol and http-socket (WebSockets included), with lifespan startup and shutdown; uvloop's loop when the app's interpreter has it", str(func(c *Config) *string { return &c.ASGI })),
	works("asgi-loop", nil, String, "auto", "the event loop of asgi workers: auto (uvloop when installed, else asyncio), asyncio, or uvloop", setASGILoop),
	works("async", nil, Int, "100", "with asgi: the connections one worker holds at once (its scoreboard cores; WebSockets and keep-alive connections each hold one). uWSGI's async cores", integer(func(c *Config) *int { return &c.Async })),
	works("gevent", nil, Int, "", "serve the WSGI app on gevent: each worker accepts and serves up to N requests at once as greenlets (the app's interpreter needs gevent: Debian's python3-gevent); stats show N cores", integer(func(c *Config) *int { return &c.Gevent })),
	works("gevent-monkey-patch", nil, Bool, "", "with gevent: gevent.monkey.patch_all() in each worker after the app is imported, before it serves (as uWSGI's gevent plugin)", boolean(func(c *Config) *bool { return &c.GeventMonkeyPatch })),
	works("gevent-early-monkey-patch", nil, Bool, "", "with gevent: gevent.monkey.patch_all() before the app is imported", boolean(func(c *Config) *bool { return &c.GeventEarlyMonkeyPatch })),
)

func setASGILoop(l *loader, v string) error {
	switch v {
	case "auto", "":
		l.cfg.ASGILoop = ""
	case "asyncio", "uvloop":
		l.cfg.ASGILoop = v
	default:
		return fmt.Errorf("not auto, asyncio or uvloop")
	}
	return nil
}

// Cores is the scoreboard cores of each worker: what one worker serves at
// once (threads; async with asgi; gevent).
func (c *Config) Cores() int {
	switch {
	case c.ASGI != "" && c.Async > 0:
		return c.Async
	case c.ASGI != "":
		return DefaultASGICores
	case c.Gevent > 0:
		return c.Gevent
	}
	return max(c.Threads, 1)
}

func (l *loader) checkAsync() []error {
	c := l.cfg
	var errs []error
	a := c.AsyncEngines
	if a.ASGI != "" && (c.Module != "" || c.WSGIFile != "" || len(c.Mounts) > 0 || len(c.Exec) > 0) {
		errs = append(errs, fmt.Errorf("asgi = %s and a WSGI app or exec (module/wsgi-file/mount/exec) are both set: a worker serves one app; remove one", a.ASGI))
	}
	if a.ASGI != "" && a.Gevent > 0 {
		errs = append(errs, fmt.Errorf("asgi and gevent are both set: an ASGI app runs on asyncio; remove gevent"))
	}
	if a.Async < 0 || a.Gevent < 0 {
		errs = append(errs, fmt.Errorf("async = %d, gevent = %d: must be 0 or more", a.Async, a.Gevent))
	}
	if a.Gevent > 0 && len(c.Exec) > 0 {
		errs = append(errs, fmt.Errorf("gevent = %d with exec: gevent runs Python WSGI apps only; remove gevent", a.Gevent))
	}
	if a.Gevent > 0 && c.Threads > 1 {
		errs = append(errs, fmt.Errorf("gevent = %d and threads = %d: a gevent worker serves with greenlets in one thread; remove threads", a.Gevent, c.Threads))
	}
	return errs
}
