package config

import (
	"fmt"
	"strconv"
	"strings"
)

// The long tail: uWSGI options that real ini files carry and supervise
// does not implement. Each is accepted with a one-line notice that says
// whether behaviour differs ("harmless: ..." when it does not matter
// here, "differs: ..." when it does, and what happens instead), or is
// refused when going on without it would be wrong (a security setting
// dropped, commands the setup needs never run, a socket nobody answers
// on). The table is appended to the main one (see options.go).

// setLogEncoder takes uWSGI's bare json encoder; any other (prefix,
// format, a json template) is ignored with a notice.
func setLogEncoder(l *loader, v string) error {
	if strings.TrimSpace(v) == "json" {
		l.cfg.LogJSON = true
		return nil
	}
	l.notice("log-encoder "+v, fmt.Sprintf("log-encoder = %s: ignored (only a bare json is implemented; lines stay as they are)", v))
	return nil
}

// harmless options change nothing that matters under supervise.
func harmless(name string, aliases []string, kind Kind, why string) Option {
	return Option{Name: name, Aliases: aliases, Kind: kind, Status: Ignored, Help: "harmless: " + why}
}

// differs options are accepted, but behaviour is not uWSGI's.
func differs(name string, aliases []string, kind Kind, instead string) Option {
	return Option{Name: name, Aliases: aliases, Kind: kind, Status: Ignored, Help: "differs: " + instead}
}

// refused options stop the start with an error that says what to do.
func refused(name string, aliases []string, kind Kind, instead string) Option {
	return Option{Name: name, Aliases: aliases, Kind: kind, Status: Refused, Help: instead}
}

const (
	noUWSGIModule = "; the uwsgi Python module exists, but calling its functions for this raises an error that says what to use instead (docs/python-api.md)"
	hookRefusal   = "supervise does not run this (its phase or action does not exist here), and starting without what it does (directories, permissions, migrations) would be wrong; use a hook phase supervise runs (asap, as-root, as-user, pre-app, post-app, master-start, accepting..., touch: docs/options.md) or run it before supervise starts (ExecStartPre= in systemd)"
	routeHelp     = "differs: no internal routing, every request reaches the app (rewrite, redirect and add headers in nginx); a rule that guards access (basicauth, ldapauth, break, return) is refused, since dropping it would open what it protects"
	staticHelp    = "not implemented; requests for these files reach the app (serve static files from nginx, or with static-map)"
	socketRefusal = "supervise's workers speak uwsgi and HTTP only, so nothing would answer on this socket; use socket (nginx uwsgi_pass) or http-socket (proxy_pass), with TLS in nginx"
	configRefusal = "supervise reads ini files only; write the same options as an ini [uwsgi] section"
)

var longTail = []Option{
	// configuration language
	works("print", nil, List, "", "log this text when the configuration is read (after expansion), as a notice", printLine),
	works("set", nil, List, "", "KEY=VALUE: set an option, or a placeholder if KEY is not an option", setKeyValue),
	works("set-placeholder", []string{"set-ph"}, List, "", "KEY=VALUE: set a placeholder for %(KEY) that is never read as an option (allowed under strict)", setPlaceholderOnly),
	refused("yaml", []string{"yml"}, String, configRefusal),
	refused("json", nil, String, configRefusal),
	refused("xml", nil, String, configRefusal),

	// process model
	refused("daemonize", nil, String, "supervise stays in the foreground, and its log would not go to the file named here; remove it, set logto = FILE for the log, and run supervise under systemd (deploy/systemd), in a container, or with nohup ... &"),
	refused("daemonize2", nil, String, "supervise stays in the foreground, as for daemonize; remove it, set logto = FILE for the log, and run supervise under systemd (deploy/systemd)"),
	refused("emperor", nil, List, "supervise runs one app per master, not an Emperor of vassal files; start one supervise per vassal ini (for example a systemd template unit)"),
	harmless("master-as-root", nil, Bool, "the master keeps root already (to bind and re-bind sockets); only the workers drop to uid/gid"),
	harmless("no-orphans", nil, Bool, "workers exit on their own when the master is gone (they watch a lifeline pipe)"),
	differs("reaper", []string{"r"}, Bool, "workers do not reap children the app leaves behind; zombies of subprocesses it never waits for stay until the worker is replaced (wait for them in the app)"),
	harmless("procname", nil, String, "process names are not changed (workers show as the interpreter in ps)"),
	harmless("procname-prefix", nil, String, "process names are not changed (workers show as the interpreter in ps)"),
	harmless("procname-prefix-spaced", nil, String, "process names are not changed (workers show as the interpreter in ps)"),
	harmless("procname-append", nil, String, "process names are not changed (workers show as the interpreter in ps)"),
	harmless("procname-master", nil, String, "process names are not changed (the master shows as supervise in ps)"),
	harmless("plugins-dir", []string{"plugin-dir"}, List, "there are no plugins to load"),
	differs("max-worker-lifetime", nil, Seconds, "workers are not recycled by age; use max-requests"),
	differs("reload-on-as", nil, Int, "workers are not recycled by address-space size"),
	differs("evil-reload-on-as", nil, Int, "workers are not recycled by address-space size"),
	differs("reload-mercy", nil, Seconds, "only worker-reload-mercy bounds how long a stopping worker may take"),
	differs("idle", nil, Seconds, "workers are never put to sleep when idle"),
	differs("die-on-idle", nil, Bool, "the master does not exit when idle"),
	differs("cpu-affinity", nil, Int, "workers are not pinned to CPUs"),
	differs("max-fd", nil, Int, "the open-file limit is inherited from how supervise is started (LimitNOFILE= in systemd, ulimit -n)"),
	differs("limit-as", nil, Int, "worker address space is not limited; bound memory with reload-on-rss, max-requests or systemd's MemoryMax="),
	differs("umask", nil, String, "the umask is inherited from how supervise is started (UMask= in systemd)"),
	differs("honour-stdin", nil, Bool, "workers' stdin is /dev/null, so input() and pdb cannot read from the terminal"),
	differs("show-config", nil, Bool, "the configuration is not printed at start; supervise check --ini-out --ini FILE prints it as a loadable ini"),
	works("touch-chain-reload", nil, List, "", "reload gracefully when this file's mtime changes, like touch-reload (supervise's reload already starts new workers before old ones stop; the configuration is read again)", list(func(c *Config) *[]string { return &c.TouchReload })),
	works("touch-workers-reload", nil, List, "", "reload gracefully when this file's mtime changes, like touch-reload (the configuration is read again)", list(func(c *Config) *[]string { return &c.TouchReload })),
	differs("touch-logreopen", nil, List, "touching the file does nothing; reopen the log with the master FIFO's l command (master-fifo)"),
	works("pidfile2", []string{"safe-pidfile", "safe-pidfile2"}, String, "", "write the master's pid to this file, like pidfile (the master keeps root, so it is written before the workers start); supervise writes one pidfile", setPidfile2),
	refused("chroot", nil, String, "supervise does not chroot the workers, and running them outside the jail this file asks for would be wrong; remove it, or confine the service with systemd (RootDirectory=)"),
	refused("cap", nil, String, "supervise does not set capabilities; remove it and grant them with systemd (AmbientCapabilities=, CapabilityBoundingSet=)"),
	refused("unshare", nil, String, "supervise does not create namespaces; remove it and isolate the service with systemd (PrivateTmp=, PrivateNetwork=, ...) or a container"),

	// concurrency engines
	differs("ugreen", nil, Bool, "no green threads; each worker serves up to threads requests at once with OS threads"),

	// routing and responses
	{Name: "route", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	{Name: "route-host", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	{Name: "route-uri", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	{Name: "route-if", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	{Name: "route-if-not", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	{Name: "route-run", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(false)},
	{Name: "response-route", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	{Name: "final-route", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	{Name: "error-route", Kind: List, Status: Ignored, Help: routeHelp, apply: checkRoute(true)},
	differs("add-header", nil, List, "the header is not added to responses; add it in nginx (add_header) or in the app"),
	differs("catch-exceptions", nil, Bool, "an exception is logged with its traceback and the client gets a plain 500, never the traceback"),
	differs("wsgi-disable-file-wrapper", nil, Bool, "wsgi.file_wrapper stays available (it streams a file, with sendfile when it can)"),
	harmless("ignore-sigpipe", nil, Bool, "a client that went away is counted in the stats' write_errors, not logged as a traceback"),
	harmless("ignore-write-errors", nil, Bool, "a client that went away is counted in the stats' write_errors, not logged as a traceback"),
	differs("disable-write-exception", nil, Bool, "a write to a client that went away raises in the app's write() as without this option; the request ends and counts in the stats' write_errors"),
	differs("pyargv", nil, String, "sys.argv is not set for the app"),
	differs("py-tracebacker", nil, String, "no tracebacker socket (py-spy dump --pid PID shows a worker's stacks)"),

	// static files
	differs("check-static-docroot", nil, Bool, staticHelp),

	// sockets and timeouts
	works("protocol", []string{"socket-protocol"}, String, "uwsgi", "the protocol of the sockets bound with socket (not uwsgi-socket or http-socket): uwsgi, or http/http11 (as http-socket); others are refused", setProtocol),
	refused("fastcgi-socket", nil, List, socketRefusal),
	refused("scgi-socket", nil, List, socketRefusal),
	refused("https-socket", nil, List, socketRefusal),
	refused("ssl-socket", nil, List, socketRefusal),
	differs("so-keepalive", nil, Bool, "TCP keepalive is not set on accepted connections"),
	differs("http-websockets", nil, Bool, "the front end always tunnels an Upgrade: websocket request whose worker answers 101 (uwsgi.websocket_handshake or an ASGI app); nothing to switch on (docs/async.md)"),
	differs("http-keepalive", nil, Bool, "not a setting here: workers keep HTTP/1.1 connections open unless the client asks to close"),

	// python
	differs("no-site", nil, Bool, "the workers' python imports site as usual (a virtualenv is chosen with home)"),
	differs("optimize", []string{"O"}, Int, "the workers run python without -O"),

	// logging
	works("logto2", nil, String, "", "append the log to this file, like logto (the master opens it before the workers start)", str(func(c *Config) *string { return &c.Logto })),
	harmless("log-master", nil, Bool, "the master writes the workers' log already"),
	harmless("threaded-logger", nil, Bool, "the master writes the log; workers only write to a pipe"),
	works("log-maxsize", nil, Int, "0", "rotate the logto file once it passes this many bytes: it is renamed (to log-backupname, else to FILE.<unix time>) and a new one started (0: off)", integer(func(c *Config) *int { return &c.LogMaxsize })),
	works("log-backupname", nil, String, "", "log-maxsize renames the full log file to this name (each rotation replaces it)", str(func(c *Config) *string { return &c.LogBackupname })),
	works("log-strftime", nil, String, "", "a strftime format for %(ftime) in log-format (with logformat-strftime), as log-date = FORMAT", str(func(c *Config) *string { return &c.LogStrftime })),
	differs("log-micros", nil, Bool, "the default request line has duration in ms; use log-format with %(micros)"),
	works("log-encoder", nil, List, "", "json: every line (the master's, the workers', request lines, and what apps print) is one JSON object with @timestamp, @level, @module, @message and the line's fields; other encoders and json templates are ignored with a notice", setLogEncoder),
	works("log-json", nil, Bool, "false", "supervise's shorthand for log-encoder = json", boolean(func(c *Config) *bool { return &c.LogJSON })),
	harmless("log-reopen", nil, Bool, "the log file is always reopened on reload (SIGHUP), on the master FIFO's l and on SIGIO"),
	differs("logfile-chown", nil, Bool, "the log file keeps the owner it is created with"),
	differs("logfile-chmod", nil, String, "the log file keeps the mode it is created with"),
	works("log-x-forwarded-for", nil, Bool, "false", "Python and Go workers: request lines (and %(addr)) show the X-Forwarded-For header, whole, instead of REMOTE_ADDR when the request has one", boolean(func(c *Config) *bool { return &c.LogXFF })),
	works("log-4xx", nil, Bool, "false", "Python and Go workers: with disable-logging, still log requests answered 4xx", boolean(func(c *Config) *bool { return &c.LogOnly.Status4xx })),
	works("log-5xx", nil, Bool, "false", "Python and Go workers: with disable-logging, still log requests answered 5xx (and those whose app raised)", boolean(func(c *Config) *bool { return &c.LogOnly.Status5xx })),
	works("log-slow", nil, Int, "0", "Python and Go workers: with disable-logging, still log requests that took at least this many milliseconds (0: off)", integer(func(c *Config) *int { return &c.LogOnly.SlowMs })),
	works("log-big", nil, Int, "0", "Python and Go workers: with disable-logging, still log responses whose body has at least this many bytes (0: off)", integer(func(c *Config) *int { return &c.LogOnly.BigBytes })),
	works("log-zero", nil, Bool, "false", "Python and Go workers: with disable-logging, still log responses with an empty body", boolean(func(c *Config) *bool { return &c.LogOnly.Zero })),
}

func printLine(l *loader, v string) error {
	l.notice("print:"+strconv.Itoa(len(l.cfg.Notices)), v)
	return nil
}

// setKeyValue is `--set KEY=VALUE` on the command line (in an ini the
// reader handles set itself, before placeholders are resolved).
func setKeyValue(l *loader, v string) error {
	k, val, ok := strings.Cut(v, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE")
	}
	l.export(entry{key: k, value: val, where: "--set"})
	if lookup(k) == nil {
		return nil
	}
	return l.set(k, val, "--set")
}

func setPlaceholderOnly(l *loader, v string) error {
	k, val, ok := strings.Cut(v, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE")
	}
	if lookup(k) != nil {
		return fmt.Errorf("%s is an option, not a placeholder", k)
	}
	l.export(entry{key: k, value: val, where: "--set-placeholder", placeholderOnly: true})
	return nil
}

func setPidfile2(l *loader, v string) error {
	v = strings.TrimSpace(v)
	if l.cfg.Pidfile != "" && l.cfg.Pidfile != v {
		l.notice("pidfile2", fmt.Sprintf("pidfile2 = %s: not written; supervise writes one pidfile (%s)", v, l.cfg.Pidfile))
		return nil
	}
	l.cfg.Pidfile = v
	return nil
}

// guardActions are route actions that control access: dropping them
// would serve what they protect.
var guardActions = []string{"basicauth", "basicauth-next", "ldapauth", "ldapauth-next", "break", "return"}

// checkRoute refuses a routing rule whose action guards access. A rule is
// "SUBJECT ACTION[:ARGS]", or only the action for route-run.
func checkRoute(hasSubject bool) func(*loader, string) error {
	return func(_ *loader, v string) error {
		action := strings.TrimSpace(v)
		if hasSubject {
			_, action, _ = strings.Cut(action, " ")
			action = strings.TrimSpace(action)
		}
		name, _, _ := strings.Cut(action, ":")
		for _, g := range guardActions {
			if strings.EqualFold(name, g) {
				return fmt.Errorf("refused: this rule guards access (%s) and supervise has no internal routing; enforce it in nginx (auth_basic, deny, return) and remove it here", g)
			}
		}
		return nil
	}
}

// setProtocol is uWSGI's default protocol for `socket` (finish applies it
// to the sockets, wherever protocol stands in the file).
func setProtocol(l *loader, v string) error {
	switch p := strings.ToLower(strings.TrimSpace(v)); p {
	case "uwsgi", "":
		l.protocol = "uwsgi"
	case "http", "http11":
		l.protocol = "http"
	default:
		return fmt.Errorf("refused: supervise's workers speak uwsgi and HTTP only, so nothing would answer %s on these sockets; use socket (uwsgi, for nginx uwsgi_pass) or http-socket", p)
	}
	return nil
}
