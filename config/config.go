// Package config reads uWSGI-compatible options: `[uwsgi]` ini sections,
// command-line flags with uWSGI's names, and UWSGI_*/SUPERVISE_* variables.
package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Socket is one listening address.
type Socket struct {
	Addr  string // "/tmp/uwsgi.sock", "127.0.0.1:3031", ":3031", "[::1]:3031", "@abstract"
	Proto string // "uwsgi" (socket), "http" (http-socket), or a front end's ProtoHTTPRouter/ProtoHTTPSRouter
	// Cert and Key are an https front end's certificate and key files.
	Cert, Key string
}

// Config is the effective configuration after every source is applied.
type Config struct {
	Sockets           []Socket
	Module            string // "pkg.mod"; "pkg.mod:callable" is split into Module and Callable
	Callable          string
	WSGIFile          string
	Mounts            []string // mount: "/prefix=app.py" or "/prefix=module:callable"
	ManageScriptName  bool
	Static            Static // served by the workers before the app
	PythonPath        []string
	Home              string
	PythonBin         string
	Exec              []string
	Processes         int
	Threads           int
	ChmodSocket       os.FileMode
	ChownSocket       string
	Chdir             string
	Env               []string
	Pidfile           string
	Vacuum            bool
	Listen            int
	NeedApp           bool
	BufferSize        int
	SocketTimeout     time.Duration // socket-timeout: workers' per-read/write limit on client sockets
	MaxVars           int           // max-vars: a uwsgi request may carry 2 x this many vars, as in uWSGI
	DisableLogging    bool
	Logto             string
	LogMaxsize        int      // log-maxsize: rotate the log file past this many bytes
	LogBackupname     string   // log-backupname: the rotated file's name
	LogFormat         string   // log-format: request lines in uWSGI's format language
	LogStrftime       string   // log-date's strftime format, for %(ftime)
	LogFormatStrftime bool     // logformat-strftime: %(ftime) uses LogStrftime
	LogJSON           bool     // log-encoder = json, log-json: every line one JSON object
	LogXFF            bool     // log-x-forwarded-for
	Loggers           []string // logger: targets every line goes to instead of logto
	LogTargets                 // where logger's targets are (logtargets.go)
	ReqLog                     // req-logger, log-req-route, log-req-encoder (reqlogger.go)
	LogOnly           LogOnly  // log-4xx, log-5xx, log-slow, log-big, log-zero
	WorkerReloadMercy time.Duration
	MinWorkerLifetime time.Duration
	ReadyTimeout      time.Duration
	ShutdownDelay     time.Duration
	Health            string
	Stats             string
	StatsHTTP         bool
	StatsMinified     bool
	Scoreboard        bool
	MasterFIFO        []string
	TouchReload       []string
	UID, GID          string // uid/gid: the workers' user and group
	Harakiri          time.Duration
	MaxRequests       int
	MaxRequestsDelta  int
	Policies
	AttachDaemon []string
	Tasks        // hooks, cron, attach-daemon2 and smart daemons (config/tasks.go)
	Services     // spooler and mules: config/services.go
	Router
	AsyncEngines // asgi, async, gevent: config/async.go
	WebSockets   // websocket-*: config/websocket.go
	Preload
	PyAutoreload int // seconds between scans; 0 is off
	Strict       bool
	Locks        int         // locks: uwsgi.lock(n) takes n = 0..Locks, as in uWSGI
	Cache        CacheConfig // cache2, cache, cache-blocksize (config/cache.go)
	Notices      []string    // one line each, logged at start
	// Opt is every option and placeholder read, in order, as uWSGI
	// exports them to the app (uwsgi.opt).
	Opt   []OptEntry
	Magic map[string]string // uwsgi.magic_table: the magic variables of the first ini
	Files []string          // ini files read
}

// DefaultMaxVars is uWSGI's max-vars default (its MAX_VARS). uWSGI keeps
// 4 x max-vars iovec entries per request and spends two on each var, so a
// request may carry 2 x max-vars vars (128: nginx with ~110 headers).
const DefaultMaxVars = 64

func defaults() *Config {
	return &Config{
		Callable:          "application",
		Processes:         1,
		Threads:           1,
		Listen:            100,
		BufferSize:        4096,
		SocketTimeout:     4 * time.Second,
		MaxVars:           DefaultMaxVars,
		WorkerReloadMercy: 60 * time.Second,
		MinWorkerLifetime: 10 * time.Second,
		ReadyTimeout:      3 * time.Second,
		Scoreboard:        true,
		Policies:          defaultPolicies(),
		Router:            Router{HTTPTimeout: 60 * time.Second},
		Preload:           Preload{ReloadForkWidth: DefaultReloadForkWidth()},
	}
}

// OptEntry is one option as read: Flag is a command-line flag given
// without a value (uwsgi.opt shows True for it).
type OptEntry struct {
	Key, Value string
	Flag       bool
}

// UsageError is a mistake on the command line (exit status 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Load builds a Config from the command line (without the program name)
// and the environment. Later sources win: defaults, then UWSGI_* and
// SUPERVISE_* variables, then the arguments left to right, an --ini being
// read where it stands (so a flag after it overrides the file).
//
// On an error the partial Config is returned too, with the notices
// gathered so far, so `supervise check` can print them.
func Load(args []string, environ []string) (*Config, error) {
	return load(args, environ, 0)
}

// load is Load with %k fixed to cpus (0: the machine's), for tests.
func load(args []string, environ []string, cpus int) (*Config, error) {
	l := newLoader(environ)
	l.cpus = cpus
	l.applyEnviron()
	if err := l.applyArgs(args); err != nil {
		return l.cfg, err
	}
	if err := l.finish(); err != nil {
		return l.cfg, err
	}
	return l.cfg, nil
}

func newLoader(environ []string) *loader {
	return &loader{cfg: defaults(), environ: environ, noticed: map[string]bool{},
		first: map[string]int{}, referenced: map[string]bool{}}
}

// loader carries the state of one Load.
type loader struct {
	cfg          *Config
	environ      []string
	noticed      map[string]bool
	placeholders []placeholder  // unknown ini keys, checked at the end
	exported     []entry        // every key = value read, in order (uWSGI's exported options)
	first        map[string]int // key -> index of its first definition in exported
	pending      []int          // lines of the ini being read, applied once it is read
	referenced   map[string]bool
	strictErrs   []error
	iniDepth     int      // ini files being read (includes nest)
	rootVars     fileVars // the outermost ini, for %D %N %P ...
	lastINI      string   // the last ini file opened
	protocol     string   // protocol: what socket = ... speaks ("": uwsgi)
	cpus         int      // %k; 0: runtime.NumCPU()
}

type placeholder struct{ key, where string }

func (l *loader) notice(key, text string) {
	if l.noticed[key] {
		return
	}
	l.noticed[key] = true
	l.cfg.Notices = append(l.cfg.Notices, text)
}

// set applies one option by name; where says which file or flag it came
// from, for errors.
func (l *loader) set(name, value, where string) error {
	opt := lookup(name)
	if opt == nil {
		return fmt.Errorf("%s: unknown option %q", where, name)
	}
	switch opt.Status {
	case Refused:
		if b, err := parseBool(value); opt.Kind == Bool && err == nil && !b && value != "" {
			return nil // a flag turned off asks for nothing (uwsgi_opt_true reads false/off/no/0 as off)
		}
		return fmt.Errorf("%s: option %s = %q: refused: %s", where, name, value, opt.Help)
	case Ignored:
		// an ignored option's apply may only check its value (and refuse
		// values whose meaning cannot be honoured)
		if opt.apply != nil {
			if err := opt.apply(l, value); err != nil {
				return fmt.Errorf("%s: option %s = %q: %w", where, name, value, err)
			}
		}
		shown := name + " = " + value
		if value == "" {
			shown = name
		}
		l.notice(opt.Name, fmt.Sprintf("%s: ignored (%s)", shown, opt.Help))
		return nil
	}
	if opt.apply == nil {
		return nil
	}
	value = l.numberWord(opt, name, value, where)
	if err := opt.apply(l, value); err != nil {
		return fmt.Errorf("%s: option %s = %q: %w", where, name, value, err)
	}
	return nil
}

func (l *loader) finish() error {
	c := l.cfg
	for i := range c.Sockets {
		if c.Sockets[i].Proto == "" { // socket = ...: the protocol option's
			c.Sockets[i].Proto = "uwsgi"
			if l.protocol != "" {
				c.Sockets[i].Proto = l.protocol
			}
		}
	}
	l.checkPlaceholders()
	errs := l.strictErrs
	if c.Processes < 1 {
		errs = append(errs, fmt.Errorf("processes = %d: must be at least 1", c.Processes))
	}
	if c.Threads < 1 {
		errs = append(errs, fmt.Errorf("threads = %d: must be at least 1", c.Threads))
	}
	if c.MaxVars < 1 {
		errs = append(errs, fmt.Errorf("max-vars = %d: must be at least 1 (uWSGI's default is %d)", c.MaxVars, DefaultMaxVars))
	}
	if c.BufferSize < 1 {
		errs = append(errs, fmt.Errorf("buffer-size = %d: must be 1..%d", c.BufferSize, maxBufferSize))
	}
	if c.Locks < 0 {
		errs = append(errs, fmt.Errorf("locks = %d: must be 0 or more (uwsgi.lock(n) takes n = 0..locks)", c.Locks))
	}
	c.Magic = l.magicTable()
	c.Opt = make([]OptEntry, 0, len(l.exported))
	for _, e := range l.exported {
		c.Opt = append(c.Opt, OptEntry{Key: e.key, Value: e.value, Flag: e.flag})
	}
	if c.Listen < 1 {
		errs = append(errs, fmt.Errorf("listen = %d: must be at least 1", c.Listen))
	}
	if len(c.Exec) > 0 && (c.Module != "" || c.WSGIFile != "" || len(c.Mounts) > 0) {
		errs = append(errs, fmt.Errorf("exec %q and a Python app (module/wsgi-file/mount) are both set: a worker runs one of them; remove one", c.Exec[0]))
	}
	errs = append(errs, l.checkPolicies()...)
	errs = append(errs, l.checkRouter()...)
	l.checkLegacyCache()
	errs = append(errs, l.checkAsync()...)
	errs = append(errs, l.checkWebSockets()...)
	errs = append(errs, c.CheckServices()...)
	return errors.Join(errs...)
}

// numberWord reads a boolean word given to a number option as uWSGI does:
// its number options take the value's leading digits (C's atoi or
// strtoul: uwsgi_opt_set_int, _64bit, _16bit in 2.0.21), so true, on and
// yes are 0, not 1 (`cheaper = true` leaves cheaper off, and
// `listen = true` is a backlog of 0). A notice says so.
func (l *loader) numberWord(opt *Option, name, value, where string) string {
	if opt.Kind != Int && opt.Kind != Seconds {
		return value
	}
	switch w := strings.ToLower(strings.TrimSpace(value)); w {
	case "true", "false", "yes", "no", "on", "off":
		why := "a number option takes the leading digits of its value"
		if w == "true" || w == "yes" || w == "on" {
			why += ", so " + w + " is 0, not 1"
		}
		l.notice("word:"+where+name, fmt.Sprintf("%s: %s = %s: read as 0, as uWSGI reads it (%s); write the number you mean", where, name, value, why))
		return "0"
	}
	return value
}

// maxBufferSize is uWSGI's largest buffer-size: the uwsgi header holds
// 16 bits, and uWSGI stores the option in 16 bits, saturating
// (uwsgi_opt_set_16bit), so the 65536 real files write means 65535.
const maxBufferSize = 65535

func setBufferSize(l *loader, v string) error {
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return fmt.Errorf("not a whole number")
	}
	if n > maxBufferSize {
		l.notice("buffer-size", fmt.Sprintf("buffer-size = %s: read as %d, uWSGI's largest (it saturates larger values the same way)", strings.TrimSpace(v), maxBufferSize))
		n = maxBufferSize
	}
	l.cfg.BufferSize = int(n)
	return nil
}

// LogOnly is the requests logged even with disable-logging, as uWSGI's
// log-4xx, log-5xx, log-slow, log-big and log-zero combine: any one that
// matches logs the request.
type LogOnly struct {
	Status4xx, Status5xx, Zero bool
	SlowMs, BigBytes           int
	Sendfile, IOError          bool // log-sendfile, log-ioerror (Python workers)
}

// Env is the rule for the Python worker (ipc.EnvLogOnly): comma-separated
// 4xx, 5xx, zero, slow=MS, big=BYTES, sendfile, ioerror; "" when none is set.
func (o LogOnly) Env() string {
	var parts []string
	if o.Status4xx {
		parts = append(parts, "4xx")
	}
	if o.Status5xx {
		parts = append(parts, "5xx")
	}
	if o.Zero {
		parts = append(parts, "zero")
	}
	if o.SlowMs > 0 {
		parts = append(parts, "slow="+strconv.Itoa(o.SlowMs))
	}
	if o.BigBytes > 0 {
		parts = append(parts, "big="+strconv.Itoa(o.BigBytes))
	}
	if o.Sendfile {
		parts = append(parts, "sendfile")
	}
	if o.IOError {
		parts = append(parts, "ioerror")
	}
	return strings.Join(parts, ",")
}
