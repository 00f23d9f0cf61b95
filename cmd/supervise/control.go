package main

import (
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

// verbs control a running master, found through --fifo, --pidfile or the
// --ini that names them.
var verbs = map[string]func(args, environ []string, stderr io.Writer) int{
	"reload": reloadVerb,
	"stop":   stopVerb,
	"scale":  scaleVerb,
	"stats":  statsVerb,
	"check":  checkVerb,
	"upgrade": func(args, environ []string, stderr io.Writer) int {
		t, _, ok := parseTarget("upgrade", args, environ, stderr, nil)
		if !ok {
			return 2
		}
		t.fifo = "" // uWSGI's FIFO has no letter for it: a signal
		if t.pidfile == "" {
			fmt.Fprintln(stderr, "supervise upgrade: needs the master's pidfile (--pidfile, or an --ini with pidfile)")
			return 2
		}
		return t.send("upgrade", "", syscall.SIGUSR2, stderr)
	},
	"top": topVerb,
	// Not a control verb: the HTTP front end, standalone (cmd/supervise/http.go).
	"http": httpVerb,
	// uWSGI's spellings: `uwsgi --reload /run/app.pid`, `uwsgi --stop /run/app.pid`.
	"--reload": func(args, environ []string, stderr io.Writer) int {
		return reloadVerb(append([]string{"--pidfile"}, args...), environ, stderr)
	},
	"--stop": func(args, environ []string, stderr io.Writer) int {
		return stopVerb(append([]string{"--pidfile"}, args...), environ, stderr)
	},
}

// target is how to reach a running master.
type target struct {
	fifo, pidfile string
}

func parseTarget(verb string, args, environ []string, stderr io.Writer, flags func(*flag.FlagSet)) (target, []string, bool) {
	fs := flag.NewFlagSet("supervise "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var t target
	var ini string
	fs.StringVar(&t.pidfile, "pidfile", "", "the master's pidfile")
	fs.StringVar(&t.fifo, "fifo", "", "the master's master-fifo")
	fs.StringVar(&ini, "ini", "", "the master's ini file (its pidfile and master-fifo options are used)")
	if flags != nil {
		flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		return t, nil, false
	}
	if ini != "" && t.fifo == "" && t.pidfile == "" {
		cfg, err := config.Load([]string{"--ini", ini}, environ)
		if err != nil {
			fmt.Fprintf(stderr, "supervise %s: %v\n", verb, err)
			return t, nil, false
		}
		t.pidfile = cfg.Pidfile
		if len(cfg.MasterFIFO) > 0 {
			t.fifo = cfg.MasterFIFO[0]
		}
		if t.fifo == "" && t.pidfile == "" {
			fmt.Fprintf(stderr, "supervise %s: %s sets neither pidfile nor master-fifo: add `pidfile = /run/app.pid` to it\n", verb, ini)
			return t, nil, false
		}
	}
	if t.fifo == "" && t.pidfile == "" {
		fmt.Fprintf(stderr, "supervise %s: say which master: --pidfile PATH, --fifo PATH or --ini FILE\n", verb)
		return t, nil, false
	}
	return t, fs.Args(), true
}

// send delivers a FIFO command if the master has a FIFO, else a signal.
func (t target) send(verb, fifoCmd string, sig syscall.Signal, stderr io.Writer) int {
	if t.fifo != "" {
		f, err := os.OpenFile(t.fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			_, err = f.WriteString(fifoCmd)
			f.Close()
		}
		if err != nil {
			fmt.Fprintf(stderr, "supervise %s: master-fifo %s: %v (is the master running?)\n", verb, t.fifo, err)
			return 1
		}
		return 0
	}
	if sig == 0 {
		fmt.Fprintf(stderr, "supervise %s: needs the master FIFO: add `master-fifo = /run/app.fifo` to the config, or pass --fifo\n", verb)
		return 2
	}
	pid, err := readPid(t.pidfile)
	if err != nil {
		fmt.Fprintf(stderr, "supervise %s: %v\n", verb, err)
		return 1
	}
	if err := syscall.Kill(pid, sig); err != nil {
		fmt.Fprintf(stderr, "supervise %s: signal master pid %d (from %s): %v\n", verb, pid, t.pidfile, err)
		return 1
	}
	return 0
}

func reloadVerb(args, environ []string, stderr io.Writer) int {
	var chain bool
	t, _, ok := parseTarget("reload", args, environ, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&chain, "chain", false, "replace one worker at a time (needs the master FIFO)")
	})
	if !ok {
		return 2
	}
	if chain {
		return t.send("reload --chain", "c", 0, stderr)
	}
	return t.send("reload", "r", syscall.SIGHUP, stderr)
}

func stopVerb(args, environ []string, stderr io.Writer) int {
	var now bool
	t, _, ok := parseTarget("stop", args, environ, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&now, "now", false, "kill the workers instead of letting requests finish")
	})
	if !ok {
		return 2
	}
	if now {
		return t.send("stop --now", "Q", syscall.SIGINT, stderr)
	}
	return t.send("stop", "q", syscall.SIGTERM, stderr)
}

func scaleVerb(args, environ []string, stderr io.Writer) int {
	t, rest, ok := parseTarget("scale", args, environ, stderr, nil)
	if !ok {
		return 2
	}
	n := 0
	if len(rest) == 1 {
		n, _ = strconv.Atoi(rest[0])
	}
	if n < 1 {
		fmt.Fprintln(stderr, "supervise scale: say how many workers: supervise scale --fifo /run/app.fifo 8")
		return 2
	}
	return t.send("scale", fmt.Sprintf(":scale %d\n", n), 0, stderr)
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
