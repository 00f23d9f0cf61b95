package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/stats"
)

// verbs control a running master found through its pidfile.
var verbs = map[string]func(args, environ []string, stderr io.Writer) int{
	"reload": func(args, environ []string, stderr io.Writer) int {
		return signalMaster("reload", syscall.SIGHUP, args, environ, stderr)
	},
	"stop":  stopVerb,
	"stats": statsVerb,
	"top":   topVerb,
}

func stopVerb(args, environ []string, stderr io.Writer) int {
	sig := syscall.SIGTERM
	rest := args[:0:0]
	for _, a := range args {
		if a == "--now" || a == "-now" {
			sig = syscall.SIGINT
			continue
		}
		rest = append(rest, a)
	}
	return signalMaster("stop", sig, rest, environ, stderr)
}

func signalMaster(verb string, sig syscall.Signal, args, environ []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("supervise "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	pidfile := fs.String("pidfile", "", "the master's pidfile")
	ini := fs.String("ini", "", "the master's ini file; its pidfile option is used")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path, err := findPidfile(*pidfile, *ini, environ)
	if err != nil {
		fmt.Fprintf(stderr, "supervise %s: %v\n", verb, err)
		return 2
	}
	pid, err := readPid(path)
	if err != nil {
		fmt.Fprintf(stderr, "supervise %s: %v\n", verb, err)
		return 1
	}
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintf(stderr, "supervise %s: signal master pid %d (from %s): %v\n", verb, pid, path, err)
		return 1
	}
	return 0
}

func findPidfile(pidfile, ini string, environ []string) (string, error) {
	if pidfile != "" {
		return pidfile, nil
	}
	if ini == "" {
		return "", errors.New("say which master: --pidfile PATH or --ini FILE (whose pidfile option names it)")
	}
	cfg, err := config.Load([]string{"--ini", ini}, environ)
	if err != nil {
		return "", err
	}
	if cfg.Pidfile == "" {
		return "", fmt.Errorf("%s sets no pidfile: add `pidfile = /run/app.pid` to it, or pass --pidfile", ini)
	}
	return cfg.Pidfile, nil
}

func readPid(path string) (int, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("pidfile: %w (is the master running?)", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pidfile %s does not hold a pid", path)
	}
	return pid, nil
}

// statsVerb prints a master's stats: `supervise stats ADDR [--json]`.
func statsVerb(args, environ []string, stderr io.Writer) int {
	asJSON := false
	var addr string
	for _, a := range args {
		switch {
		case a == "--json" || a == "-json":
			asJSON = true
		case addr == "":
			addr = a
		default:
			fmt.Fprintf(stderr, "supervise stats: unexpected argument %q\n", a)
			return 2
		}
	}
	if addr == "" {
		fmt.Fprintln(stderr, "supervise stats: say where: supervise stats 127.0.0.1:1717 (the master's stats option)")
		return 2
	}
	st, raw, err := stats.Fetch(addr)
	if err != nil {
		fmt.Fprintln(stderr, "supervise stats:", err)
		return 1
	}
	if asJSON {
		os.Stdout.Write(raw)
		return 0
	}
	fmt.Print(stats.Table(st, nil, 0))
	return 0
}
