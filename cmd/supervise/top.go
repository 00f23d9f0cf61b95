package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/supervise-go/supervise/stats"
)

// topVerb is a live view of a master's stats, refreshed every second;
// q (or Ctrl-C) quits.
func topVerb(args, environ []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "supervise top: say where: supervise top 127.0.0.1:1717 (the master's stats option)")
		return 2
	}
	addr := args[0]
	quit := make(chan struct{})
	newline := "\n"
	if term.IsTerminal(int(os.Stdin.Fd())) {
		if old, err := term.MakeRaw(int(os.Stdin.Fd())); err == nil {
			defer term.Restore(int(os.Stdin.Fd()), old)
			newline = "\r\n"
		}
	}
	go readQuit(quit)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	prev := map[int]uint64{}
	last := time.Time{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		st, _, err := stats.Fetch(addr)
		now := time.Now()
		screen := ""
		if err != nil {
			screen = err.Error() + "\n"
		} else {
			screen = stats.Table(st, prev, now.Sub(last))
			prev = map[int]uint64{}
			for _, w := range st.Workers {
				prev[w.PID] = w.Requests
			}
			last = now
		}
		fmt.Print("\x1b[H\x1b[2J" + strings.ReplaceAll(screen, "\n", newline) + "q quits" + newline)
		select {
		case <-quit:
			return 0
		case <-sigs:
			return 0
		case <-tick.C:
		}
	}
}

// readQuit closes quit on q (or Ctrl-C in a raw terminal). At the end of
// a non-terminal stdin it just stops reading: top keeps running.
func readQuit(quit chan<- struct{}) {
	buf := make([]byte, 1)
	for {
		n, err := os.Stdin.Read(buf)
		if err != nil {
			return
		}
		if n == 1 && (buf[0] == 'q' || buf[0] == 3) {
			close(quit)
			return
		}
	}
}
