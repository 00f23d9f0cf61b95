package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Kind is how an option's value is read.
type Kind string

const (
	Bool    Kind = "bool"
	Int     Kind = "int"
	String  Kind = "string"
	List    Kind = "list" // repeatable: every occurrence appends
	Seconds Kind = "seconds"
	Mode    Kind = "mode" // octal file mode; bare means 666
)

// Status says what supervise does with an option.
type Status string

const (
	Works   Status = "works"
	Ignored Status = "ignored" // accepted with a notice saying what happens instead
	Refused Status = "refused" // an error: its meaning cannot be honoured, and going on without it would be wrong
)

// Option is one known option.
type Option struct {
	Name    string
	Aliases []string
	Kind    Kind
	Default string
	Status  Status
	Help    string
	apply   func(l *loader, value string) error
}

// Options lists every option supervise knows, sorted by name.
func Options() []Option {
	out := append([]Option(nil), table...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

var byName = map[string]*Option{}

// areaOptions are the options that files of one area (config/cache.go,
// config/services.go...) declare with addOptions, beside table.
var areaOptions []Option

// addOptions declares an area's options from a package-level var
// (`var _ = addOptions(...)`), which Go initialises before init runs.
func addOptions(opts ...Option) bool {
	areaOptions = append(areaOptions, opts...)
	return true
}

func init() {
	table = append(table, longTail...)    // config/longtail.go
	table = append(table, areaOptions...) // addOptions
	table = withUWSGIOptions(table)       // config/uwsgi_options.go
	for i := range table {
		o := &table[i]
		for _, name := range append([]string{o.Name}, o.Aliases...) {
			if byName[name] != nil {
				panic("config: option " + name + " is declared twice")
			}
			byName[name] = o
		}
	}
}

func lookup(name string) *Option { return byName[name] }

func works(name string, aliases []string, kind Kind, def, help string, apply func(*loader, string) error) Option {
	return Option{Name: name, Aliases: aliases, Kind: kind, Default: def, Status: Works, Help: help, apply: apply}
}

// ignored options: what the notice says happens instead.
func ignored(name string, aliases []string, kind Kind, instead string) Option {
	return Option{Name: name, Aliases: aliases, Kind: kind, Status: Ignored, Help: instead}
}

const notYet = "not implemented yet in supervise; the option has no effect"

var table = []Option{
	works("socket", []string{"s"}, List, "", "bind a uwsgi-protocol socket (for nginx uwsgi_pass), or one of the protocol option's", addSocket("")),
	works("uwsgi-socket", nil, List, "", "bind a uwsgi-protocol socket, whatever protocol says", addSocket("uwsgi")),
	works("http-socket", nil, List, "", "bind a socket the workers serve HTTP/1.1 on", addSocket("http")),
	works("http11-socket", nil, List, "", "bind a socket the workers serve HTTP/1.1 on, like http-socket (which keeps connections alive already)", addSocket("http")),
	works("module", []string{"wsgi", "w"}, String, "", "Python module of the WSGI app; mod:callable names the callable too", setModule),
	works("callable", nil, String, "application", "name of the WSGI callable in the module", str(func(c *Config) *string { return &c.Callable })),
	works("wsgi-file", []string{"file"}, String, "", "load the WSGI app from this Python file", str(func(c *Config) *string { return &c.WSGIFile })),
	works("pythonpath", []string{"python-path", "pp"}, List, "", "add a directory to sys.path", list(func(c *Config) *[]string { return &c.PythonPath })),
	works("home", []string{"virtualenv", "venv", "pyhome", "H"}, String, "", "virtualenv to run the workers' python from (HOME/bin/python3)", str(func(c *Config) *string { return &c.Home })),
	works("python-bin", nil, String, "python3 on PATH", "supervise's own: the Python interpreter for the workers", str(func(c *Config) *string { return &c.PythonBin })),
	works("exec", nil, String, "", "supervise's own: run this program (with arguments) as the worker instead of Python", setExec),
	works("processes", []string{"workers", "p"}, Int, "1", "number of worker processes", integer(func(c *Config) *int { return &c.Processes })),
	works("threads", nil, Int, "1", "requests one worker serves at once", integer(func(c *Config) *int { return &c.Threads })),
	works("locks", nil, Int, "0", "shared locks for the app beyond the first: uwsgi.lock(n) takes n = 0..locks, across threads and workers", integer(func(c *Config) *int { return &c.Locks })),
	works("chmod-socket", nil, Mode, "", "mode of unix sockets (bare: 666)", setMode),
	works("chown-socket", nil, String, "", "owner of unix sockets: user or user:group (default with uid/gid: the workers' user and group, as uWSGI)", str(func(c *Config) *string { return &c.ChownSocket })),
	works("chdir", nil, String, "", "directory the workers run in", str(func(c *Config) *string { return &c.Chdir })),
	works("env", nil, List, "", "set an environment variable for the workers: KEY=VALUE", addEnv),
	works("pidfile", nil, String, "", "write the master's pid to this file", str(func(c *Config) *string { return &c.Pidfile })),
	works("vacuum", nil, Bool, "false", "remove unix sockets and the pidfile on exit", boolean(func(c *Config) *bool { return &c.Vacuum })),
	works("listen", []string{"l"}, Int, "100", "socket listen queue (backlog); must not exceed net.core.somaxconn", integer(func(c *Config) *int { return &c.Listen })),
	works("need-app", nil, Bool, "false", "exit when the app cannot be loaded instead of retrying", boolean(func(c *Config) *bool { return &c.NeedApp })),
	works("buffer-size", []string{"b"}, Int, "4096", "largest uwsgi request vars block (and HTTP header block), bytes; larger values are read as 65535, as uWSGI does", setBufferSize),
	works("max-vars", nil, Int, "64", "a uwsgi request may carry 2 x this many vars (uWSGI's count); one more and the connection is closed (nginx: 502)", integer(func(c *Config) *int { return &c.MaxVars })),
	works("disable-logging", []string{"L"}, Bool, "false", "no per-request log lines", boolean(func(c *Config) *bool { return &c.DisableLogging })),
	works("logto", nil, String, "", "append the log (master and workers) to this file", str(func(c *Config) *string { return &c.Logto })),
	works("ready-timeout", nil, Seconds, "3", "supervise's own: an exec worker that never sends READY=1 is taken as ready after this many seconds", seconds(func(c *Config) *time.Duration { return &c.ReadyTimeout })),
	works("socket-timeout", nil, Seconds, "4", "a worker closes a connection on its sockets that sends no byte of the request head or body (or takes none of the response) for this many seconds; counted in read_errors/write_errors (0: never)", seconds(func(c *Config) *time.Duration { return &c.SocketTimeout })),
	works("worker-reload-mercy", nil, Seconds, "60", "seconds a stopping worker may take before it is killed", seconds(func(c *Config) *time.Duration { return &c.WorkerReloadMercy })),
	works("stats", []string{"stats-server"}, String, "", "serve uWSGI-shaped stats JSON on host:port, a unix path or @abstract", str(func(c *Config) *string { return &c.Stats })),
	works("stats-http", nil, Bool, "false", "serve the stats over HTTP (and Prometheus text at /metrics)", boolean(func(c *Config) *bool { return &c.StatsHTTP })),
	works("health", nil, String, "", "supervise's own: answer /healthz (the master's loop runs) and /readyz (every worker ready with its app loaded, no shutdown begun) over HTTP on host:port or a unix path, for Kubernetes probes and load balancers; other paths get 404 (stats-http answers both paths too)", str(func(c *Config) *string { return &c.Health })),
	works("shutdown-delay", nil, Seconds, "0", "supervise's own: on SIGTERM, fail /readyz at once but keep serving this many seconds before the graceful drain, so a load balancer or Kubernetes stops sending requests first; add it to worker-reload-mercy when sizing terminationGracePeriodSeconds", seconds(func(c *Config) *time.Duration { return &c.ShutdownDelay })),
	works("stats-minified", []string{"stats-min"}, Bool, "false", "stats JSON on one line", boolean(func(c *Config) *bool { return &c.StatsMinified })),
	works("scoreboard", nil, Bool, "true", "supervise's own: false turns off the workers' shared-memory counters (stats then show pids and memory only); for measuring their cost", boolean(func(c *Config) *bool { return &c.Scoreboard })),
	works("master-fifo", nil, List, "", "a FIFO (mode 0600) taking uWSGI's one-letter commands: r R c w W q Q s + - l p (p freezes the workers with SIGSTOP until the next p); supervise's own: \":scale N\\n\"", list(func(c *Config) *[]string { return &c.MasterFIFO })),
	works("touch-reload", nil, List, "", "reload gracefully when this file's mtime changes", list(func(c *Config) *[]string { return &c.TouchReload })),
	works("uid", nil, String, "", "run the workers as this user (name or number); the master keeps root to bind and re-bind sockets", str(func(c *Config) *string { return &c.UID })),
	works("gid", nil, String, "", "run the workers with this group (name or number); supplementary groups are dropped", str(func(c *Config) *string { return &c.GID })),
	works("harakiri", nil, Seconds, "0", "kill and replace a worker whose request runs longer than this many seconds (0: off)", seconds(func(c *Config) *time.Duration { return &c.Harakiri })),
	works("max-requests", nil, Int, "0", "replace a worker gracefully after it served this many requests (0: never)", integer(func(c *Config) *int { return &c.MaxRequests })),
	works("harakiri-graceful-timeout", nil, Seconds, "0", "on harakiri, send harakiri-graceful-signal first and kill only if the worker is still there after this many seconds (0: kill at once)", seconds(func(c *Config) *time.Duration { return &c.HarakiriGracefulTimeout })),
	works("harakiri-graceful-signal", nil, String, "15", "the signal harakiri-graceful-timeout sends first (number or name; SIGTERM lets the worker finish and exit)", setHarakiriSignal),
	works("max-requests-delta", nil, Int, "0", "add worker id x this to max-requests, so workers do not all retire at once", integer(func(c *Config) *int { return &c.MaxRequestsDelta })),
	works("strict", nil, Bool, "false", "an unknown ini key that no %(...) uses is an error instead of a placeholder (uWSGI refuses used ones too; set-placeholder declares a placeholder for both)", boolean(func(c *Config) *bool { return &c.Strict })),
	works("ini", nil, String, "", "read options from an ini file (FILE or FILE:section)", nil),
	works("master", []string{"M"}, Bool, "true", "the master always runs", setMaster),
	works("die-on-term", nil, Bool, "true", "SIGTERM always shuts down gracefully", setDieOnTerm),
	works("http", nil, List, "", "run supervise's HTTP front end on this address: it accepts HTTP/1.1 and forwards to the workers over uwsgi (a private socket is made when none is configured)", addRouter(ProtoHTTPRouter)),
	works("https", nil, List, "", "the front end over TLS (HTTP/2 offered): ADDR,CERT,KEY", addRouter(ProtoHTTPSRouter)),

	ignored("plugins", []string{"plugin"}, List, "supervise runs Python itself; there are no plugins to load"),
	ignored("enable-threads", []string{"T"}, Bool, "threads are always enabled"),
	ignored("thunder-lock", nil, Bool, "the kernel balances accept() across workers"),
	ignored("single-interpreter", nil, Bool, "each worker runs one interpreter already"),
	ignored("auto-procname", nil, Bool, "worker processes keep the interpreter's name"),
	ignored("memory-report", nil, Bool, "the stats always include rss and vsz"),
	works("log-date", []string{"logdate"}, Bool, "false", "every log line carries a timestamp already; a value other than true/false is a strftime format that %(ftime) in log-format uses with logformat-strftime", setLogDate),
	works("logformat-strftime", []string{"log-format-strftime"}, Bool, "false", "%(ftime) in log-format uses log-date's strftime format instead of %(ltime)'s", boolean(func(c *Config) *bool { return &c.LogFormatStrftime })),
	works("min-worker-lifetime", nil, Seconds, "10", "a worker younger than this is not recycled by max-requests or reload-on-rss", seconds(func(c *Config) *time.Duration { return &c.MinWorkerLifetime })),
	ignored("harakiri-verbose", nil, Bool, notYet),
	works("reload-on-rss", nil, Int, "0", "replace a worker gracefully once its resident memory passes this many MB (checked each second; 0: off)", integer(func(c *Config) *int { return &c.ReloadOnRSS })),
	works("evil-reload-on-rss", nil, Int, "0", "kill and replace a worker once its resident memory passes this many MB (0: off)", integer(func(c *Config) *int { return &c.EvilReloadOnRSS })),
	works("cheaper", nil, Int, "0", "adaptive pool: keep at least this many workers and grow up to processes under load (0: off)", integer(func(c *Config) *int { return &c.Cheaper })),
	works("cheaper-initial", nil, Int, "cheaper", "workers started at first, between cheaper and processes", integer(func(c *Config) *int { return &c.CheaperInitial })),
	works("cheaper-step", nil, Int, "1", "workers started at once when the pool is overloaded", integer(func(c *Config) *int { return &c.CheaperStep })),
	works("cheaper-algo", nil, String, "spare", "spare (grow when every worker is busy), busyness (share of time in requests), backlog (listen queue) or manual (master FIFO + and - only)", setCheaperAlgo),
	works("cheaper-overload", nil, Int, "3", "spare: seconds of every worker busy before growing; backlog: the listen queue length that means overload; busyness: seconds per measuring cycle", integer(func(c *Config) *int { return &c.CheaperOverload })),
	works("cheaper-busyness-max", nil, Int, "50", "busyness: grow when the workers spend more than this percentage of a cycle in requests", integer(func(c *Config) *int { return &c.CheaperBusynessMax })),
	works("cheaper-busyness-min", nil, Int, "25", "busyness: shrink when they spend less than this percentage, cheaper-busyness-multiplier cycles in a row", integer(func(c *Config) *int { return &c.CheaperBusynessMin })),
	works("cheaper-busyness-multiplier", nil, Int, "10", "busyness: idle cycles in a row before a worker is stopped", integer(func(c *Config) *int { return &c.CheaperMultiplier })),
	works("post-buffering", nil, Int, "0", "http/https front end: a request body without Content-Length (chunked) is held in memory up to this many bytes, then in a temp file, so the app sees an exact CONTENT_LENGTH (0: 64 KB)", integer(func(c *Config) *int { return &c.Router.PostBuffering })),
	works("static-map", nil, List, "", "serve the files under DIR at URL, written /URL=DIR (/URL/x is DIR/x), with Range and conditional GET; workers serve them before the app on socket and http-socket, the http front end before forwarding", addStaticMap),
	works("static-map2", nil, List, "", "like static-map, but the whole path is appended to DIR (/URL/x is DIR/URL/x); served by the workers", addStatic("static-map2")),
	works("check-static", []string{"static-check"}, List, "", "serve DIR + the request path when that file exists (a document root before the app); served by the workers", addStatic("check-static")),
	works("static-index", nil, List, "", "for a request naming a directory under a static-map or check-static, serve this file in it (repeatable, tried in order)", addStatic("static-index")),
	works("static-expires", nil, List, "", "REGEX SECONDS: a static file whose path matches gets Expires: now + SECONDS", addStatic("static-expires")),
	works("static-expires-mtime", nil, List, "", "REGEX SECONDS: as static-expires, Expires: the file's mtime + SECONDS", addStatic("static-expires-mtime")),
	works("static-expires-uri", nil, List, "", "REGEX SECONDS: as static-expires, matched on REQUEST_URI", addStatic("static-expires-uri")),
	works("static-expires-uri-mtime", nil, List, "", "REGEX SECONDS: as static-expires-mtime, matched on REQUEST_URI", addStatic("static-expires-uri-mtime")),
	works("static-expires-path-info", nil, List, "", "REGEX SECONDS: as static-expires, matched on PATH_INFO", addStatic("static-expires-path-info")),
	works("static-expires-path-info-mtime", nil, List, "", "REGEX SECONDS: as static-expires-mtime, matched on PATH_INFO", addStatic("static-expires-path-info-mtime")),
	works("static-expires-type", nil, List, "", "TYPE=SECONDS: a static file of this Content-Type gets Expires: now + SECONDS", addStatic("static-expires-type")),
	works("static-expires-type-mtime", nil, List, "", "TYPE=SECONDS: as static-expires-type, Expires: the file's mtime + SECONDS", addStatic("static-expires-type-mtime")),
	works("static-gzip", nil, List, "", "REGEX: as static-gzip-all, for files whose path matches", addStatic("static-gzip")),
	works("static-gzip-dir", []string{"static-gzip-prefix"}, List, "", "as static-gzip-all, for files whose path starts with this", addStatic("static-gzip-dir")),
	works("static-gzip-ext", []string{"static-gzip-suffix"}, List, "", "as static-gzip-all, for files whose path ends with this", addStatic("static-gzip-ext")),
	works("static-skip-ext", nil, List, "", "files ending in this are never served as static files (the app gets the request)", addStatic("static-skip-ext")),
	works("static-gzip-all", nil, Bool, "false", "serve FILE.gz with Content-Encoding: gzip instead of FILE when it exists and the client accepts gzip (workers)", setStaticGzipAll),
	works("static-safe", nil, List, "", "symlinks in a static-map may lead into this directory (elsewhere: 403)", addStatic("static-safe")),
	works("limit-post", nil, Int, "0", "http/https front end: refuse request bodies larger than this many bytes with 413 (0: no limit)", integer(func(c *Config) *int { return &c.Router.LimitPost })),
	works("http-timeout", nil, Seconds, "60", "http/https front end: how long it waits for the workers' answer before 504", seconds(func(c *Config) *time.Duration { return &c.Router.HTTPTimeout })),
	works("http-processes", []string{"http-workers"}, Int, "0", "http/https front end: this many processes, each serving every front-end socket (they share its accept queue) with one event loop, supervised as the front end is (0: one process with an event loop per 2 CPUs)", integer(func(c *Config) *int { return &c.Router.Processes })),
	works("http-to", nil, List, "", "http/https front end: forward to this uwsgi socket instead of the first socket (repeatable: round robin)", list(func(c *Config) *[]string { return &c.Router.HTTPTo })),
	works("py-autoreload", []string{"python-autoreload"}, Int, "0", "for development: every this many seconds worker 1 checks the loaded modules' files and asks for a graceful reload when one changed (0: off)", integer(func(c *Config) *int { return &c.PyAutoreload })),
	works("attach-daemon", nil, List, "", "run this shell command beside the workers and restart it when it exits (it must stay in the foreground); stopped with SIGTERM on shutdown", list(func(c *Config) *[]string { return &c.AttachDaemon })),
	works("log-format", []string{"logformat"}, String, "", "Python and Go workers: request lines in uWSGI's format language, %(addr) - %(user) [%(ltime)] \"%(method) %(uri) %(proto)\" %(status) %(size) ... (see README, Logging)", str(func(c *Config) *string { return &c.LogFormat })),
	works("logger", nil, List, "", "send every line to file:PATH, stdio, syslog[:IDENT[,FACILITY]] (ident uwsgi, facility daemon by default, to syslog-socket) or socket:HOST:PORT (UDP) / socket:/PATH (unix datagram), with an optional ,PREFIX, instead of logto (repeatable; read at start)", list(func(c *Config) *[]string { return &c.Loggers })),
	ignored("offload-threads", nil, Int, "supervise does not offload"),
	ignored("vhost", nil, Bool, "one app per master"),
	works("manage-script-name", nil, Bool, "false", "with mount: the longest mount point that prefixes PATH_INFO becomes SCRIPT_NAME and is cut from PATH_INFO, as uWSGI does", boolean(func(c *Config) *bool { return &c.ManageScriptName })),
	works("mount", nil, List, "", "load another app in every worker: /PREFIX=APP, APP a file (app.py, .wsgi: its callable) or module:callable; the app whose mount point equals SCRIPT_NAME (from the web server, or manage-script-name) answers, else the first app loaded", addMount),
}

func str(field func(*Config) *string) func(*loader, string) error {
	return func(l *loader, v string) error { *field(l.cfg) = v; return nil }
}

func list(field func(*Config) *[]string) func(*loader, string) error {
	return func(l *loader, v string) error { p := field(l.cfg); *p = append(*p, v); return nil }
}

func integer(field func(*Config) *int) func(*loader, string) error {
	return func(l *loader, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		*field(l.cfg) = n
		return nil
	}
}

// setLogDate reads log-date: a boolean, or uWSGI's strftime format.
func setLogDate(l *loader, v string) error {
	if _, err := parseBool(v); err != nil {
		l.cfg.LogStrftime = v
	}
	return nil
}

func boolean(field func(*Config) *bool) func(*loader, string) error {
	return func(l *loader, v string) error {
		b, err := parseBool(v)
		*field(l.cfg) = b
		return err
	}
}

func seconds(field func(*Config) *time.Duration) func(*loader, string) error {
	return func(l *loader, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return fmt.Errorf("not a number of seconds")
		}
		*field(l.cfg) = time.Duration(n) * time.Second
		return nil
	}
}

// parseBool reads uWSGI's boolean words.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true", "yes", "on", "1", "y", "t":
		return true, nil
	case "false", "no", "off", "0", "n", "f":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (use true/false, yes/no, on/off or 1/0)")
}

func addSocket(proto string) func(*loader, string) error {
	return func(l *loader, v string) error {
		addr := strings.TrimSpace(v)
		if addr == "" {
			return fmt.Errorf("empty address")
		}
		l.cfg.Sockets = append(l.cfg.Sockets, Socket{Addr: addr, Proto: proto})
		return nil
	}
}

func setModule(l *loader, v string) error {
	mod, callable, ok := strings.Cut(strings.TrimSpace(v), ":")
	if mod == "" {
		return fmt.Errorf("empty module name")
	}
	l.cfg.Module = mod
	if ok && callable != "" {
		l.cfg.Callable = callable
	}
	return nil
}

func setExec(l *loader, v string) error {
	args, err := splitCommand(v)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return fmt.Errorf("empty command")
	}
	l.cfg.Exec = args
	return nil
}

func setMode(l *loader, v string) error {
	v = strings.TrimSpace(v)
	if b, err := parseBool(v); err == nil && v != "0" && v != "1" {
		if b {
			l.cfg.ChmodSocket = 0o666
		}
		return nil
	}
	n, err := strconv.ParseUint(v, 8, 32)
	if err != nil || n > 0o777 {
		return fmt.Errorf("not an octal mode like 660")
	}
	l.cfg.ChmodSocket = os.FileMode(n)
	return nil
}

func addEnv(l *loader, v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE")
	}
	l.cfg.Env = append(l.cfg.Env, v)
	return nil
}

func setMaster(l *loader, v string) error {
	b, err := parseBool(v)
	if err == nil && !b {
		l.notice("master", "master = false: ignored (supervise always runs a master)")
	}
	return err
}

func setDieOnTerm(l *loader, v string) error {
	b, err := parseBool(v)
	if err == nil && !b {
		l.notice("die-on-term", "die-on-term = false: ignored (SIGTERM always shuts down gracefully; reload with SIGHUP)")
	}
	return err
}

// splitCommand splits a command line with shell-like quotes.
func splitCommand(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote rune
	inWord := false
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote")
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}
