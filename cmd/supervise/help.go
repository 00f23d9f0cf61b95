package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/stats"
)

const usageHead = `supervise: a drop-in replacement for the uWSGI master.

Run a master:
  supervise --ini myapp.ini                 uWSGI ini files run unchanged
  supervise [options] [-- program args]     uWSGI's option names; a program after -- is the worker
  supervise                                 the built-in demo app on http://127.0.0.1:8080/

Control a running master (found with --pidfile, --fifo or --ini):
  supervise reload [--chain]                graceful (or one worker at a time) reload
  supervise stop [--now]                    graceful (or immediate) shutdown
  supervise scale N                         N workers (needs master-fifo)
  supervise upgrade                         re-exec a new binary in place, same pid
  supervise stats ADDR [--json]             the stats server's document, readable
  supervise top ADDR                        live view; q quits
  supervise check [--json|--ini-out] [--no-import] --ini FILE
                                            read the configuration, import the app in a
                                            throwaway python, print it, bind nothing

The HTTP front end, in front of supervise's workers or any uwsgi server:
  supervise http --listen ADDR --to SOCKET  (supervise http --help lists its options)

Options (docs/options.md has the full table):
`

// printUsage lists the options from the same table the parser uses.
func printUsage(w io.Writer) {
	fmt.Fprint(w, usageHead)
	for _, o := range config.Options() {
		if o.Status != config.Works {
			continue
		}
		name := "--" + o.Name
		if len(o.Aliases) > 0 {
			name += " (" + strings.Join(o.Aliases, ", ") + ")"
		}
		fmt.Fprintf(w, "  %-34s %s\n", name, o.Help)
	}
	fmt.Fprintln(w, "\nAccepted with a notice (no effect): every option docs/options.md marks ignored.")
}

func helpOrVersion(args []string, stdout io.Writer) (int, bool) {
	if len(args) != 1 {
		return 0, false
	}
	switch args[0] {
	case "--help", "-h", "help":
		printUsage(stdout)
		return 0, true
	case "--version", "version":
		fmt.Fprintln(stdout, stats.Version)
		return 0, true
	}
	return 0, false
}
