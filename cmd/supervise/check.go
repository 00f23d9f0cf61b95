package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/supervisor"
)

// checkVerb is `supervise check [--json | --ini-out] [--no-import] --ini
// myapp.ini [options]`: it reads the configuration like a master would,
// without binding or starting anything, imports the app in the chosen
// interpreter in a throwaway process (like nginx -t opening its files),
// prints every notice and the effective settings after every expansion,
// and exits non-zero on an error: 1 for a configuration that cannot run,
// 2 for a mistake on the command line. The notices are printed even when
// there is an error.
//
// --json prints the settings by uWSGI's option names in the ini's units;
// --ini-out prints a loadable ini of them (like uwsgi --show-config);
// --no-import skips importing the app.
func checkVerb(args, environ []string, stderr io.Writer) int {
	return check(args, environ, os.Stdout, stderr)
}

func check(args, environ []string, stdout, stderr io.Writer) int {
	asJSON, iniOut, importApp := false, false, true
	var rest []string
	for _, a := range args {
		switch a {
		case "--json":
			asJSON = true
		case "--ini-out":
			iniOut = true
		case "--no-import":
			importApp = false
		default:
			rest = append(rest, a)
		}
	}
	cfg, err := config.Load(rest, environ)
	if cfg != nil {
		for _, n := range cfg.Notices {
			fmt.Fprintln(stderr, "notice:", n)
		}
	}
	fail := func(err error) int {
		for _, line := range strings.Split(err.Error(), "\n") { // errors.Join: one per line
			fmt.Fprintln(stderr, "supervise check: error:", line)
		}
		return 1
	}
	if err != nil {
		var usage *config.UsageError
		if errors.As(err, &usage) {
			fail(err)
			return 2
		}
		return fail(err)
	}
	demo := applyDemoDefaults(cfg)
	if err := startable(cfg); err != nil {
		return fail(err)
	}
	program, err := supervisor.CheckProgram(cfg)
	if err != nil {
		return fail(err)
	}
	var app *appProbe
	if len(cfg.Exec) == 0 && demo == "" && importApp {
		app, err = probeApp(cfg, program, environ)
		if err != nil {
			return fail(err)
		}
	}
	switch {
	case asJSON:
		return printJSON(stdout, stderr, cfg, program, app)
	case iniOut:
		fmt.Fprint(stdout, config.INI(cfg))
		return 0
	}
	fmt.Fprintf(stdout, "files:       %v\n", cfg.Files)
	switch {
	case len(cfg.Exec) > 0:
		fmt.Fprintf(stdout, "exec:        %v (%s)\n", cfg.Exec, program)
	case demo != "":
		fmt.Fprintf(stdout, "app:         the built-in demo app (python %s)\n", program)
	default:
		fmt.Fprintf(stdout, "app:         module=%q callable=%q wsgi-file=%q\n", cfg.Module, cfg.Callable, cfg.WSGIFile)
		for _, m := range cfg.Mounts {
			fmt.Fprintf(stdout, "mount:       %s\n", m)
		}
		if app != nil {
			fmt.Fprintf(stdout, "python:      %s (Python %s), the app imports\n", program, app.Version)
		} else {
			fmt.Fprintf(stdout, "python:      %s (app not imported: --no-import)\n", program)
		}
	}
	fmt.Fprintf(stdout, "workers:     %d processes x %d threads, mercy %v\n", cfg.Processes, cfg.Threads, cfg.WorkerReloadMercy)
	printTasks(stdout, cfg)
	fmt.Fprintln(stdout, "effective settings (defaults left out; docs/options.md lists them):")
	for _, line := range strings.SplitAfter(strings.TrimSuffix(config.Render(cfg), "\n"), "\n") {
		fmt.Fprint(stdout, "  ", line)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "configuration OK")
	return 0
}

// startable finds what would stop the master at start although the
// options read well.
func startable(cfg *config.Config) error {
	if len(cfg.Sockets) == 0 {
		return errors.New("no socket configured, so the master could not start: add socket = /path/app.sock (uwsgi protocol, for nginx uwsgi_pass), http-socket = 127.0.0.1:8000, or http = :8080 (supervise's front end)")
	}
	return nil
}

// printJSON prints the check's result with uWSGI's option names and the
// ini's units: {"files", "notices", "program", "python", "uwsgi": {option:
// value}}, a list option as an array, numbers as numbers, flags as
// booleans, modes as the ini's octal text ("660").
func printJSON(stdout, stderr io.Writer, cfg *config.Config, program string, app *appProbe) int {
	settings := map[string]any{}
	for _, s := range config.Settings(cfg) {
		v := jsonValue(s)
		if kindOf(s.Name) == config.List {
			list, _ := settings[s.Name].([]any)
			settings[s.Name] = append(list, v)
			continue
		}
		settings[s.Name] = v
	}
	out := map[string]any{"files": cfg.Files, "notices": cfg.Notices, "program": program, "uwsgi": settings}
	if out["notices"] == nil {
		out["notices"] = []string{}
	}
	if app != nil {
		out["python"] = app
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(stderr, "supervise check:", err)
		return 1
	}
	return 0
}

func kindOf(name string) config.Kind {
	for _, o := range config.Options() {
		if o.Name == name {
			return o.Kind
		}
	}
	return config.String
}

func jsonValue(s config.Setting) any {
	switch kindOf(s.Name) {
	case config.Int, config.Seconds:
		if n, err := strconv.ParseInt(s.Value, 10, 64); err == nil {
			return n
		}
	case config.Bool:
		if b, err := strconv.ParseBool(s.Value); err == nil {
			return b
		}
	}
	return s.Value
}
