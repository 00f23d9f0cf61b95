package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/supervise-go/supervise/config"
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
  supervise help VERB, VERB --help          a verb's help
  supervise version (--version, -v)         version, VCS revision, Go version

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

// verbHelp is each verb's help: `supervise help VERB`, `VERB --help`,
// `VERB -h`. (http prints its flag table: see httpUsage.)
var verbHelp = map[string]string{
	"reload": `supervise reload [--chain] (--pidfile PATH | --fifo PATH | --ini FILE)

Graceful reload of a running master: it re-reads its configuration and
starts a new generation of workers; an old worker stops only when its
replacement is ready. The master's pid and sockets stay. A reload whose new
generation fails leaves the old one serving.
  --chain          one worker at a time (needs the master FIFO)
  --pidfile PATH   send SIGHUP to the pid in PATH
  --fifo PATH      write to the master FIFO (r, or c with --chain)
  --ini FILE       use the pidfile / master-fifo that FILE names
`,
	"stop": `supervise stop [--now] (--pidfile PATH | --fifo PATH | --ini FILE)

Graceful shutdown: the workers finish their requests (within
worker-reload-mercy), then the master exits 0.
  --now            kill the workers at once (SIGINT, FIFO Q)
  --pidfile PATH   send SIGTERM to the pid in PATH
  --fifo PATH      write q to the master FIFO
  --ini FILE       use the pidfile / master-fifo that FILE names
`,
	"scale": `supervise scale (--fifo PATH | --ini FILE) N

Run N workers from now on (more start at once, extra ones stop
gracefully). Needs the master FIFO (master-fifo = /run/app.fifo).
`,
	"upgrade": `supervise upgrade (--pidfile PATH | --ini FILE)

Upgrade the master in place (SIGUSR2): it executes its binary again with
the same pid and sockets, then replaces the workers gracefully. Install the
new binary over the old path first.
`,
	"stats": `supervise stats ADDR [--json]

Print a master's stats (its stats = ADDR option: host:port or a unix
socket path) as a table of workers, or the uWSGI-shaped JSON with --json.
`,
	"top": `supervise top ADDR

A live view of a master's stats (its stats = ADDR option), refreshed every
second: requests per second, busy workers, memory. q or Ctrl-C quits.
`,
	"check": `supervise check [--json] --ini FILE [options]

Read the configuration as a master would (the same options and files), bind
and start nothing, print every notice and the effective settings (or the
configuration as JSON with --json). Exit status: 0 fine, 1 a configuration
that cannot run, 2 a mistake on the command line.
`,
	"help": `supervise help [VERB]

The options, or the help of VERB (reload, stop, scale, upgrade, stats, top,
check, http, version).
`,
	"version": `supervise version   (also --version, -v)

Print the version, the VCS revision it was built from and the Go version.
`,
}

// verbAliases are uWSGI's spellings of verbs.
var verbAliases = map[string]string{"--reload": "reload", "--stop": "stop"}

// printVerbHelp prints a verb's help; false for an unknown verb.
func printVerbHelp(verb string, stdout io.Writer) bool {
	if v, ok := verbAliases[verb]; ok {
		verb = v
	}
	if verb == "http" {
		httpVerb([]string{"--help"}, nil, stdout) // its flag table; starts nothing
		return true
	}
	text, ok := verbHelp[verb]
	if ok {
		fmt.Fprint(stdout, text)
	}
	return ok
}

// asksForHelp: the verb's arguments hold --help or -h (before a "--").
func asksForHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--help", "-help", "-h":
			return true
		}
	}
	return false
}

// helpOrVersion answers --help, -h, help [VERB], --version, -v, version
// and VERB --help; done is false for anything else.
func helpOrVersion(args []string, stdout, stderr io.Writer) (code int, done bool) {
	if len(args) == 0 {
		return 0, false
	}
	switch args[0] {
	case "--help", "-h", "help":
		if len(args) == 1 {
			printUsage(stdout)
			return 0, true
		}
		if args[0] == "help" && len(args) == 2 && asksForHelp(args[1:]) {
			printVerbHelp("help", stdout)
			return 0, true
		}
		if args[0] == "help" && len(args) == 2 {
			if !printVerbHelp(args[1], stdout) {
				fmt.Fprintf(stderr, "supervise help: no verb %q (reload, stop, scale, upgrade, stats, top, check, http, version)\n", args[1])
				return 2, true
			}
			return 0, true
		}
		return 0, false
	case "--version", "-v", "version":
		if len(args) == 1 {
			fmt.Fprintln(stdout, versionLine())
			return 0, true
		}
		if args[0] == "version" && asksForHelp(args[1:]) {
			printVerbHelp("version", stdout)
			return 0, true
		}
		return 0, false
	}
	_, isVerb := verbs[args[0]]
	if isVerb && asksForHelp(args[1:]) {
		printVerbHelp(args[0], stdout)
		return 0, true
	}
	return 0, false
}
