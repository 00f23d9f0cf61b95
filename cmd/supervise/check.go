package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/master"
)

// checkVerb is `supervise check [--json] --ini myapp.ini [options]`: it
// reads the configuration like a master would, without binding or
// starting anything, prints every notice and the effective settings after
// every expansion, and exits non-zero on an error (like nginx -t): 1 for
// a configuration that cannot run, 2 for a mistake on the command line.
// The notices are printed even when there is an error.
func checkVerb(args, environ []string, stderr io.Writer) int {
	return check(args, environ, os.Stdout, stderr)
}

func check(args, environ []string, stdout, stderr io.Writer) int {
	asJSON := false
	var rest []string
	for _, a := range args {
		if a == "--json" {
			asJSON = true
			continue
		}
		rest = append(rest, a)
	}
	cfg, err := config.Load(rest, environ)
	if cfg != nil {
		for _, n := range cfg.Notices {
			fmt.Fprintln(stderr, "notice:", n)
		}
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") { // errors.Join: one per line
			fmt.Fprintln(stderr, "supervise check: error:", line)
		}
		var usage *config.UsageError
		if errors.As(err, &usage) {
			return 2
		}
		return 1
	}
	applyDemoDefaults(cfg)
	program, err := master.CheckProgram(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "supervise check: error:", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cfg); err != nil {
			fmt.Fprintln(stderr, "supervise check:", err)
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "files:       %v\n", cfg.Files)
	if len(cfg.Exec) > 0 {
		fmt.Fprintf(stdout, "exec:        %v (%s)\n", cfg.Exec, program)
	} else {
		fmt.Fprintf(stdout, "app:         module=%q callable=%q wsgi-file=%q (python %s)\n", cfg.Module, cfg.Callable, cfg.WSGIFile, program)
	}
	fmt.Fprintf(stdout, "workers:     %d processes x %d threads, mercy %v\n", cfg.Processes, cfg.Threads, cfg.WorkerReloadMercy)
	fmt.Fprintln(stdout, "effective settings (defaults left out; docs/options.md lists them):")
	for _, line := range strings.SplitAfter(strings.TrimSuffix(config.Render(cfg), "\n"), "\n") {
		fmt.Fprint(stdout, "  ", line)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "configuration OK")
	return 0
}
