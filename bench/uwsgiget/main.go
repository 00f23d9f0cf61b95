// uwsgiget sends N requests, one after another, each on its own
// connection, to a uwsgi socket the way nginx's uwsgi_pass does, and fails
// on the first one that is not answered with 200. bench/cost.sh drives
// workers with it: no nginx process, no concurrency, so the work a worker
// does per request is the same every time.
//
//	uwsgiget -n 1000 unix:/tmp/app.sock /user/bob
//	uwsgiget -n 1000 127.0.0.1:3031 /
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/supervise-go/supervise/uwsgi"
	"github.com/supervise-go/supervise/uwsgi/uwsgitest"
)

func main() {
	n := flag.Int("n", 1, "requests to send")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: uwsgiget [-n N] unix:PATH|HOST:PORT URI")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 2 {
		flag.Usage()
		os.Exit(2)
	}
	network, addr := "tcp", flag.Arg(0)
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	vars := uwsgitest.NginxVars("GET", flag.Arg(1), nil, 0)
	for i := 0; i < *n; i++ {
		if err := get(network, addr, vars); err != nil {
			fmt.Fprintf(os.Stderr, "uwsgiget: request %d of %d: %v\n", i+1, *n, err)
			os.Exit(1)
		}
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
