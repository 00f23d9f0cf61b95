package supervisor

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/socket"
)

// What the master tells its front end: the router sockets as fds from 3
// in order, HTTPS with its files, the first uwsgi socket as the backend
// (a wildcard address reached on loopback), and the router options.
func TestFrontEndConfigFromTheConfig(t *testing.T) {
	cfg := &config.Config{
		Sockets: []config.Socket{
			{Addr: "0.0.0.0:3031", Proto: "uwsgi"},
			{Addr: ":8080", Proto: config.ProtoHTTPRouter},
			{Addr: ":8443", Proto: config.ProtoHTTPSRouter, Cert: "c.pem", Key: "k.pem"},
		},
		Router:     config.Router{StaticMap: []string{"/s=/srv"}, PostBuffering: 8192, HTTPTimeout: 9 * time.Second, Processes: 3},
		BufferSize: 8192, WorkerReloadMercy: 5 * time.Second, Chdir: "/app",
	}
	l := &launcher{cfg: cfg, tls: map[string][2]string{":8443": {"c.pem", "k.pem"}},
		routers: []*socket.Listener{{Name: ":8080", Proto: config.ProtoHTTPRouter}, {Name: ":8443", Proto: config.ProtoHTTPSRouter}}}
	want := ipc.FrontEnd{
		Listeners: []ipc.FrontListener{{FD: 3}, {FD: 4, Cert: "c.pem", Key: "k.pem"}},
		Backends:  []string{"127.0.0.1:3031"}, StaticMaps: []string{"/s=/srv"},
		PostBuffering: 8192, Loops: 1, BackendTimeout: 9 * time.Second, BufferSize: 8192,
		ShutdownTimeout: 5 * time.Second, DocumentRoot: "/app", DisableLogging: true,
	}
	got := l.frontEnd()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("front end config\n%+v\nwant\n%+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("the master's own configuration does not validate: %v", err)
	}
	cfg.Router.HTTPTo = []string{"unix:/run/other.sock"}
	if got := l.frontEnd().Backends; !reflect.DeepEqual(got, cfg.Router.HTTPTo) {
		t.Fatalf("backends %q with http-to, want %q", got, cfg.Router.HTTPTo)
	}
}

// http-processes = N is N front-end processes (uWSGI's router
// processes), each with one event loop and every front-end socket;
// unset, one process with the front end's default loops. The names carry
// the process's number, not the count, so a reload from 2 to 3 keeps the
// first two running.
func TestHTTPProcessesAreFrontEndProcesses(t *testing.T) {
	specs := func(ini string) []string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "app.ini")
		if err := os.WriteFile(path, []byte("[uwsgi]\nhttp = 127.0.0.1:8080\nsocket = /tmp/app.sock\nmodule = app\n"+ini), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load([]string{"--ini", path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, routers := splitRouters([]*socket.Listener{{Name: "127.0.0.1:8080", Proto: config.ProtoHTTPRouter}})
		l := &launcher{cfg: cfg, rt: &runtimeState{}, routers: routers, tls: map[string][2]string{}}
		var names []string
		for _, d := range l.routerDaemon("/bin/supervise") {
			names = append(names, d.Name)
			if p, err := d.Spec(); err != nil || len(p.Files) != 4 || p.Args[1] != "http" {
				t.Fatalf("%s: %+v %v: want `supervise http` with the socket as fd 3", d.Name, p, err)
			}
		}
		return names
	}
	loops := func(name string) int {
		t.Helper()
		_, encoded, _ := strings.Cut(name, ": ")
		fe, err := ipc.DecodeFrontEnd(encoded)
		if err != nil {
			t.Fatal(err)
		}
		return fe.Loops
	}
	if got := specs(""); len(got) != 1 || !strings.HasPrefix(got[0], "http front end: ") || loops(got[0]) != 0 {
		t.Fatalf("no http-processes: %q, want one front end with its default loops", got)
	}
	two := specs("http-processes = 2\n")
	if len(two) != 2 || two[0] == two[1] || loops(two[0]) != 1 || loops(two[1]) != 1 {
		t.Fatalf("http-processes = 2: %q, want two processes of one loop each", two)
	}
	three := specs("http-workers = 3\n")
	if len(three) != 3 || three[0] != two[0] || three[1] != two[1] {
		t.Fatalf("http-workers = 3: %q, want the first two names of http-processes = 2 (%q) and a third", three, two)
	}
}
