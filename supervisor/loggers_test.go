package supervisor

import (
	"os"
	"strings"
	"testing"
)

func TestOpenLoggersRefusesWhatItCannotDo(t *testing.T) {
	for spec, want := range map[string]string{
		"mylog file:/tmp/x":             "log-route",
		"file:logfile=/tmp/x,maxsize=1": "key=value",
		"redislog:127.0.0.1:6379":       "unknown logger",
		"syslog:app,nosuch":             "facility",
		"file:":                         "file:PATH",
	} {
		if _, err := OpenLoggers([]string{spec}, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("logger = %s: error %v, want one mentioning %q", spec, err, want)
		}
	}
	ws, err := OpenLoggers([]string{"stdio"}, "")
	if err != nil || len(ws) != 1 || ws[0] != os.Stdout {
		t.Fatalf("stdio: %v %v", ws, err)
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
