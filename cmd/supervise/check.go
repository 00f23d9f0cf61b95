package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/master"
)

// checkVerb is `supervise check [--json] --ini myapp.ini [options]`: it
// reads the configuration like a master would, without binding or
// starting anything, prints the effective settings and every notice, and
// exits non-zero on an error (like nginx -t).
func checkVerb(args, environ []string, stderr io.Writer) int {
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
	if err != nil {
		fmt.Fprintln(stderr, "supervise check:", err)
		return 1
	}
	applyDemoDefaults(cfg)
	program, err := master.CheckProgram(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "supervise check:", err)
		return 1
	}
	for _, n := range cfg.Notices {
		fmt.Fprintln(stderr, "notice:", n)
	}
	if asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(cfg)
		return 0
	}
	fmt.Printf("files:       %v\n", cfg.Files)
	for _, s := range cfg.Sockets {
		fmt.Printf("socket:      %s (%s)\n", s.Addr, s.Proto)
	}
	if len(cfg.Exec) > 0 {
		fmt.Printf("exec:        %v (%s)\n", cfg.Exec, program)
	} else {
		fmt.Printf("app:         module=%q callable=%q wsgi-file=%q (python %s)\n", cfg.Module, cfg.Callable, cfg.WSGIFile, program)
	}
	fmt.Printf("workers:     %d processes x %d threads, mercy %v\n", cfg.Processes, cfg.Threads, cfg.WorkerReloadMercy)
	fmt.Printf("chdir:       %q  pidfile: %q  vacuum: %v  listen: %d  buffer-size: %d\n", cfg.Chdir, cfg.Pidfile, cfg.Vacuum, cfg.Listen, cfg.BufferSize)
	if cfg.Stats != "" {
		fmt.Printf("stats:       %s (http %v)\n", cfg.Stats, cfg.StatsHTTP)
	}
	fmt.Println("configuration OK")
	return 0
}
