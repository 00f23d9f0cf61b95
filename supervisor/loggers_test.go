package supervisor

import (
	"os"
	"strings"
	"testing"
)

func TestOpenLoggersRefusesWhatItCannotDo(t *testing.T) {
	for spec, want := range map[string]string{
		"file:logfile=/tmp/x,maxsize=1": "key=value",
		"redislog:127.0.0.1:6379":       "unknown logger",
		"syslog:app,nosuch":             "facility",
		"file:":                         "file:PATH",
	} {
		if _, err := OpenLoggers([]string{spec}, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("logger = %s: error %v, want one mentioning %q", spec, err, want)
		}
	}
	ws, err := OpenLoggers([]string{"stdio", "out stdio"}, "")
	if err != nil || len(ws.Unnamed) != 1 || ws.Unnamed[0] != os.Stdout {
		t.Fatalf("stdio: %v %v", ws, err)
	}
	for spec, want := range map[string]string{"nosuch x": "no logger is named", "out [": "missing closing", "out": "NAME REGEXP"} {
		if _, err := ws.Routes([]string{spec}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("log-route = %s: error %v, want one mentioning %q", spec, err, want)
		}
	}
}

// A batch of lines reaches a socket or syslog target one line per write.
func TestLineWriterSplitsLines(t *testing.T) {
	var got []string
	w := lineWriter{writerFunc(func(p []byte) (int, error) { got = append(got, string(p)); return len(p), nil })}
	w.Write([]byte("a\nbb\nccc"))
	if strings.Join(got, "|") != "a\n|bb\n|ccc" {
		t.Fatalf("writes %q", got)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
