package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/supervise-go/supervise/ipc"
)

// The flags a standalone user gives and the master's encoded form build
// the same configuration.
func TestFrontEndFlagsAndMasterFormAgree(t *testing.T) {
	var stderr bytes.Buffer
	fromFlags, code := frontEndConfig([]string{"--listen-fd", "3", "--https-fd", "4,c.pem,k.pem", "--to", "unix:/x.sock",
		"--to", "127.0.0.1:3031", "--static-map", "/s=/srv", "--trusted-proxy", "10.0.0.0/8", "--post-buffering", "64k",
		"--backend-timeout", "7", "--shutdown-timeout", "500ms", "--disable-logging", "--loops", "2"}, ipc.ParseEnv(nil), &stderr)
	if fromFlags == nil {
		t.Fatalf("flags: exit %d: %s", code, stderr.String())
	}
	want := ipc.FrontEnd{
		Listeners: []ipc.FrontListener{{FD: 3}, {FD: 4, Cert: "c.pem", Key: "k.pem"}},
		Backends:  []string{"unix:/x.sock", "127.0.0.1:3031"}, StaticMaps: []string{"/s=/srv"},
		TrustedProxies: []string{"10.0.0.0/8"}, PostBuffering: 64 << 10, BufferSize: 4096, Loops: 2,
		BackendTimeout: 7 * time.Second, ShutdownTimeout: 500 * time.Millisecond, DisableLogging: true,
	}
	if !reflect.DeepEqual(*fromFlags, want) {
		t.Fatalf("from flags %+v\nwant       %+v", *fromFlags, want)
	}
	fromEnv, code := frontEndConfig(nil, ipc.ParseEnv([]string{ipc.EnvFrontEnd + "=" + want.Encode()}), &stderr)
	if fromEnv == nil || !reflect.DeepEqual(*fromEnv, want) {
		t.Fatalf("from %s: %+v (exit %d: %s)", ipc.EnvFrontEnd, fromEnv, code, stderr.String())
	}
}

func TestFrontEndMasterFormRefused(t *testing.T) {
	good := (&ipc.FrontEnd{Listeners: []ipc.FrontListener{{FD: 3}}, Backends: []string{"/x.sock"}}).Encode()
	for _, c := range []struct {
		args []string
		env  string
		want string
	}{
		{nil, `{"listeners":[]}`, "nothing to listen on"},
		{nil, `{"listeners":[{"fd":3}],"backends":["/x"],"typo":1}`, "unknown field"},
		{[]string{"--to", "/y.sock"}, good, "give one or the other"},
	} {
		var stderr bytes.Buffer
		code := run(append([]string{"http"}, c.args...), []string{ipc.EnvFrontEnd + "=" + c.env}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("%v with %s: exit %d, stderr %q; want 2 and %q", c.args, c.env, code, stderr.String(), c.want)
		}
	}
}
