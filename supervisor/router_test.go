package supervisor

import (
	"reflect"
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
		PostBuffering: 8192, Loops: 3, BackendTimeout: 9 * time.Second, BufferSize: 8192,
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
