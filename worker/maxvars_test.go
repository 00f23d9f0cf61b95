package worker

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
)

// uwsgiWithVars sends a GET carrying n vars in all and returns the body, or
// an error when the worker dropped the request (nginx would answer 502).
func uwsgiWithVars(t *testing.T, path string, n int) (string, error) {
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	vars := []uwsgi.Var{{Key: "REQUEST_METHOD", Value: "GET"}, {Key: "PATH_INFO", Value: "/"},
		{Key: "REQUEST_URI", Value: "/"}, {Key: "SERVER_PROTOCOL", Value: "HTTP/1.0"}}
	for i := len(vars); i < n; i++ {
		vars = append(vars, uwsgi.Var{Key: fmt.Sprintf("HTTP_X_%d", i), Value: "v"})
	}
	pkt, err := uwsgi.AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(pkt)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// max-vars = N takes 2 x N vars, as uWSGI counts them; one more drops the
// request. Unset, uWSGI's default (64, so 128 vars).
func TestMaxVarsIsHonoured(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, c := range []struct {
		maxVars         string
		served, dropped int
	}{{"", 128, 129}, {"100", 200, 201}, {"10", 20, 21}} {
		_, l, path, _ := startServer(t, ok, ipc.EnvMaxVars, c.maxVars, ipc.EnvBufferSize, "65535")
		if b, err := uwsgiWithVars(t, path, c.served); err != nil || b != "ok" {
			t.Errorf("max-vars %q, %d vars: %q %v, want served", c.maxVars, c.served, b, err)
		}
		if b, err := uwsgiWithVars(t, path, c.dropped); err == nil {
			t.Errorf("max-vars %q, %d vars: served %q, want dropped", c.maxVars, c.dropped, b)
		}
		l.Close()
	}
}
