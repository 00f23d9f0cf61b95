// Package config reads uWSGI-compatible options: `[uwsgi]` ini sections,
// command-line flags with uWSGI's names, and UWSGI_*/SUPERVISE_* variables.
package config

import (
	"errors"
	"fmt"
	"os"
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
	DisableLogging    bool
	Logto             string
	WorkerReloadMercy time.Duration
	MinWorkerLifetime time.Duration
	ReadyTimeout      time.Duration
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
	Router
	PyAutoreload int // seconds between scans; 0 is off
	Strict       bool
	Locks        int      // locks: uwsgi.lock(n) takes n = 0..Locks, as in uWSGI
	Notices      []string // one line each, logged at start
	// Opt is every option and placeholder read, in order, as uWSGI
	// exports them to the app (uwsgi.opt).
	Opt   []OptEntry
	Magic map[string]string // uwsgi.magic_table: the magic variables of the first ini
	Files []string          // ini files read
}

func defaults() *Config {
	return &Config{
		Callable:          "application",
		Processes:         1,
		Threads:           1,
		Listen:            100,
		BufferSize:        4096,
		WorkerReloadMercy: 60 * time.Second,
		MinWorkerLifetime: 10 * time.Second,
		ReadyTimeout:      3 * time.Second,
		Scoreboard:        true,
		Policies:          defaultPolicies(),
		Router:            Router{HTTPTimeout: 60 * time.Second},
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
	if err := opt.apply(l, value); err != nil {
		return fmt.Errorf("%s: option %s = %q: %w", where, name, value, err)
	}
	return nil
}

func (l *loader) finish() error {
	c := l.cfg
	l.checkPlaceholders()
	errs := l.strictErrs
	if c.Processes < 1 {
		errs = append(errs, fmt.Errorf("processes = %d: must be at least 1", c.Processes))
	}
	if c.Threads < 1 {
		errs = append(errs, fmt.Errorf("threads = %d: must be at least 1", c.Threads))
	}
	if c.BufferSize < 1 || c.BufferSize > 65535 {
		errs = append(errs, fmt.Errorf("buffer-size = %d: must be 1..65535 (the uwsgi header holds 16 bits)", c.BufferSize))
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
	if len(c.Exec) > 0 && (c.Module != "" || c.WSGIFile != "") {
		errs = append(errs, fmt.Errorf("exec %q and a Python app (module/wsgi-file) are both set: a worker runs one of them; remove one", c.Exec[0]))
	}
	errs = append(errs, l.checkPolicies()...)
	errs = append(errs, l.checkRouter()...)
	return errors.Join(errs...)
}
