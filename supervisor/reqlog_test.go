package supervisor

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

// chunks is a reader that returns its pieces one Read at a time, so a
// line (and its mark) can arrive in parts.
type chunks []string

func (c *chunks) Read(p []byte) (int, error) {
	if len(*c) == 0 {
		return 0, io.EOF
	}
	n := copy(p, (*c)[0])
	(*c)[0] = (*c)[0][n:]
	if (*c)[0] == "" {
		*c = (*c)[1:]
	}
	return n, nil
}

// Marked request lines go to the request loggers with the mark
// stripped, even when they arrive in pieces; a log-req-route sends the
// lines it matches to its logger only; the mark in the middle of a line,
// or a line split after a bare mark, is ordinary output, which stays in
// logto; without a request log, marked lines go to logto unmarked.
func TestRequestLinesGoToTheRequestLoggers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	s, err := OpenLogSink(path)
	if err != nil {
		t.Fatal(err)
	}
	var reqs, slow bytes.Buffer
	s.SetRequestLog([]io.Writer{&reqs}, []LogRoute{{regexp.MustCompile(`path=/slow`), &slow}}, false)
	in := chunks{"\x1e", "req path=/a", " status=200\napp print", "ed \x1e in the middle\n",
		"\x1ereq path=/slow status=200\n\x1ereq path=/b\nplain\n\x1e", "req path=/c\n"}
	lineDrain(s, iotest.HalfReader(&in))
	raw, _ := os.ReadFile(path)
	if got, want := string(raw), "app printed \x1e in the middle\nplain\n"; got != want {
		t.Errorf("logto got %q, want %q", got, want)
	}
	if got, want := reqs.String(), "req path=/a status=200\nreq path=/b\nreq path=/c\n"; got != want {
		t.Errorf("req-logger got %q, want %q", got, want)
	}
	if got, want := slow.String(), "req path=/slow status=200\n"; got != want {
		t.Errorf("log-req-route's logger got %q, want %q", got, want)
	}

	// log-req-encoder = json wraps request lines only.
	reqs.Reset()
	s.SetRequestLog([]io.Writer{&reqs}, nil, true)
	in = chunks{"\x1ereq path=/j\nother\n"}
	lineDrain(s, &in)
	if !strings.HasPrefix(reqs.String(), `{"@level":"info","@message":"req path=/j"`) {
		t.Errorf("json request line %q", reqs.String())
	}

	// No request log (none configured): the mark is dropped, the line kept.
	s2, _ := OpenLogSink(filepath.Join(t.TempDir(), "log2"))
	in = chunks{"\x1ereq path=/d\n"}
	lineDrain(s2, &in)
	raw, _ = os.ReadFile(s2.path)
	if string(raw) != "req path=/d\n" {
		t.Errorf("without a request log got %q", raw)
	}
}
