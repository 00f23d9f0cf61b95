package ipc

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// What the master encodes, the front end decodes unchanged.
func TestFrontEndRoundTrip(t *testing.T) {
	want := FrontEnd{
		Listeners:      []FrontListener{{FD: 3}, {FD: 4, Cert: "c.pem", Key: "k.pem"}, {Addr: "127.0.0.1:0"}},
		Backends:       []string{"unix:/run/app.sock", "127.0.0.1:3031"},
		StaticMaps:     []string{"/static=/srv/static"},
		TrustedProxies: []string{"10.0.0.0/8"},
		PostBuffering:  1 << 16, LimitPost: 1 << 20, BufferSize: 8192, Loops: 2,
		BackendTimeout: 7 * time.Second, ShutdownTimeout: 500 * time.Millisecond,
		DocumentRoot: "/srv", DisableLogging: true,
	}
	got, err := DecodeFrontEnd(want.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*got, want) {
		t.Fatalf("decoded %+v\nwant    %+v", *got, want)
	}
}

func TestFrontEndDecodeRefuses(t *testing.T) {
	ok := `"listeners":[{"fd":3}],"backends":["/x.sock"]`
	for _, c := range []struct{ json, why string }{
		{`{` + ok + `}`, ""},
		{`{` + ok + `,"colour":"blue"}`, "unknown field"},
		{`{"backends":["/x.sock"]}`, "nothing to listen on"},
		{`{"listeners":[{"fd":3}]}`, "no backend"},
		{`{"listeners":[{"fd":3,"addr":":80"}],"backends":["/x"]}`, "not both"},
		{`{"listeners":[{"fd":1}],"backends":["/x"]}`, "fd 3 or above"},
		{`{"listeners":[{"fd":3,"cert":"c.pem"}],"backends":["/x"]}`, "certificate and a key"},
		{`{` + ok + `,"limit_post":-1}`, "limit-post"},
		{`{` + ok + `,"idle_timeout":-1}`, "idle-timeout"},
		{`not json`, "invalid character"},
	} {
		_, err := DecodeFrontEnd(c.json)
		switch {
		case c.why == "" && err != nil:
			t.Errorf("%s: %v", c.json, err)
		case c.why != "" && (err == nil || !strings.Contains(err.Error(), c.why)):
			t.Errorf("%s: error %v, want one with %q", c.json, err, c.why)
		}
	}
}
