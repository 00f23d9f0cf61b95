// uwsgiget sends N requests, each on its own connection, to a uwsgi socket
// the way nginx's uwsgi_pass does, from C connections in flight at once,
// and fails on the first one that is not answered with 200. bench/cost.sh
// drives workers with it: no nginx process, and with C above the worker's
// threads its listen queue never empties, so the worker takes the same
// path (accept, serve, accept) for every request, however the machine
// schedules the two sides.
//
//	uwsgiget -n 1000 -c 4 unix:/tmp/app.sock /user/bob
//	uwsgiget -n 1000 127.0.0.1:3031 /
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/supervise-go/supervise/uwsgi"
	"github.com/supervise-go/supervise/uwsgi/uwsgitest"
)

func main() {
	n := flag.Int("n", 1, "requests to send")
	c := flag.Int("c", 1, "connections in flight at once")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: uwsgiget [-n N] [-c C] unix:PATH|HOST:PORT URI")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 || *c < 1 {
		flag.Usage()
		os.Exit(2)
	}
	network, addr := "tcp", flag.Arg(0)
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	vars := uwsgitest.NginxVars("GET", flag.Arg(1), nil, 0)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := next.Add(1)
				if i > int64(*n) {
					return
				}
				if err := get(network, addr, vars); err != nil && !failed.Swap(true) {
					fmt.Fprintf(os.Stderr, "uwsgiget: request %d of %d: %v\n", i, *n, err)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() {
		os.Exit(1)
	}
}

func get(network, addr string, vars []uwsgi.Var) error {
	conn, err := net.Dial(network, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := uwsgitest.Do(conn, vars, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return err
}
