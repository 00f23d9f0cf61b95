package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Services are the processes the master runs beside the workers for the
// app's background work: spooler processes (uwsgi.spool, uwsgidecorators'
// @spool) and mules (uwsgi.mule_msg, @mulefunc, @mule). Each gets the
// app's code and the uwsgi module, as in uWSGI (supervisor/services.go).
type Services struct {
	Spooler          []string      // spooler: one directory each, in config order
	SpoolerProcesses int           // spooler-processes: processes per directory (0: 1)
	SpoolerFrequency time.Duration // spooler-frequency: seconds between scans when idle (0: 30 s)
	SpoolerImport    []string      // spooler-import: modules (or .py files) each spooler process imports
	SpoolerMaxTasks  int           // spooler-max-tasks: a spooler process exits after this many tasks and is replaced
	SpoolerHarakiri  time.Duration // spooler-harakiri: a task running longer kills its spooler process
	SpoolerOrdered   bool          // spooler-ordered: tasks run in version-sort order of their names
	SpoolerChdir     string        // spooler-chdir: the directory tasks run in
	SpoolerQuiet     bool          // spooler-quiet: no line per task
	Mule             []string      // one entry per mule: "" (a message loop) or what mule = gave (a script)
	Farm             []Farm        // farm = name:1,2
}

// Farm is a named group of mules sharing one message queue.
type Farm struct {
	Name  string
	Mules []int // mule ids, 1-based
}

// String is the farm as farm = takes it.
func (f Farm) String() string {
	ids := make([]string, len(f.Mules))
	for i, id := range f.Mules {
		ids[i] = strconv.Itoa(id)
	}
	return f.Name + ":" + strings.Join(ids, ",")
}

// DefaultSpoolerFrequency is uWSGI's spooler-frequency default.
const DefaultSpoolerFrequency = 30 * time.Second

var _ = addOptions(
	works("spooler", nil, List, "", "run spooler processes on this directory (repeatable): tasks queued with uwsgi.spool() or uwsgidecorators' @spool are files there, uWSGI's format; created when missing, as uWSGI does", list(func(c *Config) *[]string { return &c.Spooler })),
	works("spooler-processes", nil, Int, "1", "spooler processes per spooler directory", integer(func(c *Config) *int { return &c.SpoolerProcesses })),
	works("spooler-frequency", nil, Int, "30", "seconds an idle spooler process waits before scanning its directory again (a task queued by this instance wakes it at once)", setSpoolerFrequency),
	works("spooler-import", []string{"spooler-python-import", "spooler-pyimport", "spooler-py-import"}, List, "", "a module (or .py file) each spooler process imports after the app, for task functions the app does not import", list(func(c *Config) *[]string { return &c.SpoolerImport })),
	works("spooler-max-tasks", nil, Int, "0", "a spooler process exits after this many tasks and the master starts a new one (0: never)", integer(func(c *Config) *int { return &c.SpoolerMaxTasks })),
	works("spooler-harakiri", nil, Seconds, "0", "a task running longer than this many seconds kills its spooler process; the task is then moved aside, never run twice (0: off)", seconds(func(c *Config) *time.Duration { return &c.SpoolerHarakiri })),
	works("spooler-ordered", nil, Bool, "false", "run tasks in version-sort order of their file names (priority subdirectories first); supervise always does, so this changes nothing", boolean(func(c *Config) *bool { return &c.SpoolerOrdered })),
	works("spooler-chdir", nil, String, "", "the directory spooler tasks run in (default: chdir's)", str(func(c *Config) *string { return &c.SpoolerChdir })),
	works("spooler-quiet", nil, Bool, "false", "no log line per task started and done", boolean(func(c *Config) *bool { return &c.SpoolerQuiet })),
	works("mules", nil, Int, "0", "add this many mules: processes with the app loaded that run @mule functions and take uwsgi.mule_msg() messages (@mulefunc)", addMules),
	works("mule", nil, List, "", "add a mule running this Python script (FILE.py) or module:function; empty: a message loop like mules", addMule),
	works("farm", nil, List, "", "a named group of mules sharing a message queue: NAME:1,2 (uwsgi.mule_msg(msg, \"NAME\"))", addFarm),
)

func setSpoolerFrequency(l *loader, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return fmt.Errorf("not a number of seconds")
	}
	l.cfg.SpoolerFrequency = time.Duration(n) * time.Second
	return nil
}

func addMules(l *loader, v string) error {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > 256 {
		return fmt.Errorf("not a number of mules (0..256)")
	}
	for i := 0; i < n; i++ {
		l.cfg.Mule = append(l.cfg.Mule, "")
	}
	return nil
}

func addMule(l *loader, v string) error {
	v = strings.TrimSpace(v)
	if b, err := parseBool(v); err == nil && b && v != "" && !strings.HasSuffix(v, ".py") {
		v = "" // a bare `mule` flag: one message-loop mule, as uWSGI
	}
	l.cfg.Mule = append(l.cfg.Mule, v)
	return nil
}

// addFarm reads NAME:ID[,ID...]; the ids are checked against the mules
// once every option is read (checkServices).
func addFarm(l *loader, v string) error {
	name, ids, ok := strings.Cut(strings.TrimSpace(v), ":")
	if !ok || name == "" || ids == "" {
		return fmt.Errorf("a farm is NAME:MULE[,MULE...], e.g. workers:1,2")
	}
	f := Farm{Name: name}
	for _, s := range strings.Split(ids, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || id < 1 {
			return fmt.Errorf("%q is not a mule id (mules are numbered from 1)", s)
		}
		f.Mules = append(f.Mules, id)
	}
	l.cfg.Farm = append(l.cfg.Farm, f)
	return nil
}

// CheckServices reports settings of the spooler and mules that cannot
// work; the caller joins them to the configuration's errors.
func (c *Config) CheckServices() []error {
	var errs []error
	if c.SpoolerProcesses < 0 {
		errs = append(errs, fmt.Errorf("spooler-processes = %d: must be 1 or more", c.SpoolerProcesses))
	}
	if c.SpoolerMaxTasks < 0 {
		errs = append(errs, fmt.Errorf("spooler-max-tasks = %d: must be 0 (never) or more", c.SpoolerMaxTasks))
	}
	seen := map[string]bool{}
	for _, f := range c.Farm {
		if seen[f.Name] {
			errs = append(errs, fmt.Errorf("farm %q is declared twice; give each farm one farm = line", f.Name))
		}
		seen[f.Name] = true
		for _, id := range f.Mules {
			if id > len(c.Mule) {
				errs = append(errs, fmt.Errorf("farm %s names mule %d, but only %d mules are configured (add mules = N or mule = lines)", f.Name, id, len(c.Mule)))
			}
		}
	}
	if len(c.Exec) > 0 && (len(c.Spooler) > 0 || len(c.Mule) > 0) {
		errs = append(errs, fmt.Errorf("spooler and mules run Python code from the app; they cannot be used with exec (a non-Python worker)"))
	}
	return errs
}
