package config

import (
	"strings"
	"testing"
)

// Values real files write that uWSGI reads in its own way.

func TestNumberOptionsReadBooleanWordsAsUWSGI(t *testing.T) {
	path := writeINI(t, "[uwsgi]\nprocesses = 4\ncheaper = true\npost-buffering = on\nharakiri = yes\nmax-requests = false\n")
	c, err := Load([]string{"--ini", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// uWSGI 2.0.21 reads them with atoi/strtoul: 0 (cheaper stays off)
	if c.Cheaper != 0 || c.Router.PostBuffering != 0 || c.Harakiri != 0 || c.MaxRequests != 0 {
		t.Fatalf("%+v", c)
	}
	notices := strings.Join(c.Notices, "\n")
	for _, want := range []string{"cheaper = true: read as 0, as uWSGI reads it", "so true is 0, not 1", "post-buffering = on: read as 0", "harakiri = yes: read as 0", "max-requests = false: read as 0"} {
		if !strings.Contains(notices, want) {
			t.Errorf("no notice %q in\n%s", want, notices)
		}
	}
	if _, err := Load([]string{"--processes", "many"}, nil); err == nil {
		t.Error("processes = many: other words are still an error")
	}
}

func TestBufferSizeUpToUWSGIsLargest(t *testing.T) {
	for v, want := range map[string]int{"65535": 65535, "65536": 65535, "1000000": 65535, "32768": 32768} {
		c, err := Load([]string{"--buffer-size", v}, nil)
		if err != nil || c.BufferSize != want {
			t.Errorf("buffer-size = %s: %d %v, want %d", v, c.BufferSize, err, want)
		}
		if saturated := want != 32768 && v != "65535"; saturated != strings.Contains(strings.Join(c.Notices, "\n"), "read as 65535") {
			t.Errorf("buffer-size = %s: notices %q", v, c.Notices)
		}
	}
}

func TestProtocolAndSocketVariants(t *testing.T) {
	for name, c := range map[string]struct {
		ini  string
		want []Socket
	}{
		"protocol after socket": {"socket = :3031\nprotocol = http\n", []Socket{{Addr: ":3031", Proto: "http"}}},
		"protocol before socket": {"protocol = http11\nsocket = :3031\nuwsgi-socket = :3032\nhttp-socket = :8000\n",
			[]Socket{{Addr: ":3031", Proto: "http"}, {Addr: ":3032", Proto: "uwsgi"}, {Addr: ":8000", Proto: "http"}}},
		"socket-protocol alias": {"socket-protocol = uwsgi\nsocket = /run/a.sock\n", []Socket{{Addr: "/run/a.sock", Proto: "uwsgi"}}},
		"http11-socket":         {"http11-socket = 127.0.0.1:8001\n", []Socket{{Addr: "127.0.0.1:8001", Proto: "http"}}},
		"default":               {"socket = :3031\n", []Socket{{Addr: ":3031", Proto: "uwsgi"}}},
	} {
		cfg, err := Load([]string{"--ini", writeINI(t, "[uwsgi]\n"+c.ini)}, nil)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(cfg.Sockets) != len(c.want) {
			t.Errorf("%s: %+v", name, cfg.Sockets)
			continue
		}
		for i := range c.want {
			if cfg.Sockets[i] != c.want[i] {
				t.Errorf("%s: %+v, want %+v", name, cfg.Sockets, c.want)
			}
		}
	}
	if _, err := Load([]string{"--protocol", "fastcgi", "--socket", ":9000"}, nil); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("protocol = fastcgi: %v", err)
	}
}

func TestStrictAcceptsRealOptions(t *testing.T) {
	path := writeINI(t, "[uwsgi]\nstrict = true\nsocket = :3031\nlog-route = file1 ^foo\nlog-encoder = json {\"msg\":\"${msg}\"}\nksm = 10\nclose-on-exec = true\nlogformat = %(addr) %(uri)\n")
	c, err := Load([]string{"--ini", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range c.Notices {
		if strings.Contains(n, "did you mean") || strings.Contains(n, "not an option") {
			t.Errorf("a real option taken for a placeholder: %s", n)
		}
	}
	if _, err := Load([]string{"--ini", writeINI(t, "[uwsgi]\nstrict = true\nvacum = true\n")}, nil); err == nil {
		t.Error("strict no longer refuses a typo")
	}
}

func TestRefusedFlagTurnedOffIsAccepted(t *testing.T) {
	if _, err := Load([]string{"--enable-proxy-protocol=false", "--http-enable-proxy-protocol", "off"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--enable-proxy-protocol"}, {"--http-enable-proxy-protocol=true"}} {
		if _, err := Load(args, nil); err == nil || !strings.Contains(err.Error(), "PROXY protocol") {
			t.Errorf("%q: %v", args, err)
		}
	}
}

// Generated options on the command line: a flag stands alone, an option
// that takes a value takes the next argument, as uWSGI's getopt does.
func TestGeneratedOptionsOnTheCommandLine(t *testing.T) {
	c, err := Load([]string{"--close-on-exec", "--socket-sndbuf", "65536", "--processes", "2", "--never-swap"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Processes != 2 || len(c.Notices) != 3 || !strings.Contains(c.Notices[1], "socket-sndbuf = 65536: ignored (differs: ") {
		t.Fatalf("%d %q", c.Processes, c.Notices)
	}
	for _, args := range [][]string{{"--suwsgi-socket", ":3031"}, {"--call-asap", "setup"}, {"--xmlconfig", "app.xml"}} {
		if _, err := Load(args, nil); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%q: %v", args, err)
		}
	}
}
