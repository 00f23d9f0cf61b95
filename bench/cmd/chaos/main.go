// Command chaos is the reliability suite's hands (bench/reliability.sh):
// it loads a server, kills its workers, attacks its listeners and reads
// /proc, and prints what it counted as key=value pairs on one line.
//
//	chaos load -url URL [-c 16] [-n 0] [-d 0] [-timeout 30s] [-rate 0]  # until -n, -d, or SIGTERM
//	chaos kill -master PID -socket PATH -stats ADDR -processes N [-every 200ms] [-for 30s]
//	chaos freeze -master PID -socket PATH -stats ADDR -processes N [-within 30s]
//	chaos wait-ready -stats ADDR -processes N      # until every slot has a ready worker
//	chaos hostile -kind random|uwsgi|http|tiny|slowloris|silent -target T [-n N] [-c 16] [-d 10s] [-http]
//	chaos proc -pid PID [-reset-peak]             # rss, peak rss, fds of pid and of its children
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/bench/chaos"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	switch os.Args[1] {
	case "load":
		url := fs.String("url", "", "URL to GET")
		c := fs.Int("c", 16, "concurrent keep-alive clients")
		n := fs.Int64("n", 0, "stop after this many requests (0: no limit)")
		d := fs.Duration("d", 0, "stop after this long (0: no limit)")
		timeout := fs.Duration("timeout", 30*time.Second, "a request that takes longer fails")
		rate := fs.Int("rate", 0, "requests per second in all (0: as fast as answered)")
		fs.Parse(os.Args[2:])
		l := &chaos.Load{URL: *url, Clients: *c, Requests: *n, Duration: *d, Timeout: *timeout, Rate: *rate}
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
		l.Start()
		select {
		case <-l.Done():
		case <-sigs:
		}
		fmt.Println(l.Stop())
	case "kill":
		k := chaos.KillStorm{}
		fs.IntVar(&k.Master, "master", 0, "pid of the master")
		fs.StringVar(&k.Socket, "socket", "", "uwsgi unix socket path the workers accept on")
		fs.StringVar(&k.Stats, "stats", "", "stats server address")
		fs.IntVar(&k.Processes, "processes", 0, "workers the pool should have")
		fs.DurationVar(&k.Every, "every", 200*time.Millisecond, "one kill per")
		fs.DurationVar(&k.For, "for", 30*time.Second, "how long")
		fs.Parse(os.Args[2:])
		fmt.Println(k.Run())
	case "freeze":
		f := chaos.Freeze{}
		fs.IntVar(&f.Master, "master", 0, "pid of the master")
		fs.StringVar(&f.Socket, "socket", "", "uwsgi unix socket path the workers accept on")
		fs.StringVar(&f.Stats, "stats", "", "stats server address")
		fs.IntVar(&f.Processes, "processes", 0, "workers the pool should have")
		fs.DurationVar(&f.Within, "within", 30*time.Second, "give up after")
		fs.Parse(os.Args[2:])
		fmt.Println(f.Run())
	case "wait-ready":
		k := chaos.KillStorm{}
		fs.StringVar(&k.Stats, "stats", "", "stats server address")
		fs.IntVar(&k.Processes, "processes", 0, "workers the pool should have")
		within := fs.Duration("within", 60*time.Second, "give up after")
		fs.Parse(os.Args[2:])
		if err := k.WaitFull(*within); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			os.Exit(1)
		}
	case "hostile":
		kind := fs.String("kind", "", "random, uwsgi, http, tiny, slowloris or silent")
		target := fs.String("target", "", "unix:/path or host:port")
		n := fs.Int("n", 1000, "connections")
		c := fs.Int("c", 16, "concurrent connections")
		d := fs.Duration("d", 10*time.Second, "slowloris, silent: how long to hold")
		http := fs.Bool("http", false, "slowloris: dribble an HTTP request instead of a uwsgi packet")
		fs.Parse(os.Args[2:])
		t := chaos.Target(*target)
		var a chaos.Attack
		switch *kind {
		case "random":
			a = chaos.RandomBytes(t, *n, *c)
		case "uwsgi":
			a = chaos.MalformedUwsgi(t, *n, *c)
		case "http":
			a = chaos.MalformedHTTP(t, *n, *c)
		case "tiny":
			a = chaos.Tiny(t, *n, *c)
		case "slowloris":
			a = chaos.Slowloris(t, *n, *d, *http)
		case "silent":
			fmt.Println(chaos.Silent(t, *n, *d))
			return
		default:
			usage()
		}
		fmt.Println(a)
	case "proc":
		pid := fs.Int("pid", 0, "process")
		reset := fs.Bool("reset-peak", false, "start a new peak RSS first")
		fs.Parse(os.Args[2:])
		if *reset {
			if err := chaos.ResetPeakRSS(*pid); err != nil {
				fmt.Fprintln(os.Stderr, "chaos:", err)
			}
		}
		kids := chaos.LiveChildren(*pid)
		childFDs := 0
		for _, k := range kids {
			childFDs += max(chaos.FDs(k), 0)
		}
		sort.Ints(kids)
		ids := make([]string, len(kids))
		for i, k := range kids {
			ids[i] = strconv.Itoa(k)
		}
		fmt.Printf("alive=%v rss_kb=%d peak_kb=%d fds=%d children=%d child_pids=%s child_fds=%d zombies=%d\n",
			chaos.Alive(*pid), chaos.RSSKB(*pid), chaos.PeakRSSKB(*pid), chaos.FDs(*pid), len(kids), strings.Join(ids, ","), childFDs, len(chaos.Zombies(*pid)))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: chaos load|kill|freeze|wait-ready|hostile|proc [flags]; see the package comment (go doc ./bench/cmd/chaos)")
	os.Exit(2)
}
