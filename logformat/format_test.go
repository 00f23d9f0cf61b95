package logformat

import (
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseQuirks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Chunk
	}{
		{"%(addr) - x", []Chunk{{false, ""}, {true, "addr"}, {false, " - x"}}},
		{"a %(uri)", []Chunk{{false, "a "}, {true, "uri"}}},
		{"50% done", []Chunk{{false, "50% done"}}},
		{"%(%(x))", []Chunk{{false, "%("}, {true, "x"}, {false, ")"}}}, // the first %( is text
		{"x%()y", []Chunk{{false, "x%"}, {false, "x%()y"}}},            // uWSGI prints x%x%()y
		{"%(a", []Chunk{{false, ""}, {false, "%(a"}}},                  // never closed: text
		{"ab%(status)cd%(var.X)", []Chunk{{false, "ab"}, {true, "status"}, {false, "cd"}, {true, "var.X"}}},
	} {
		if got := Parse(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

type env map[string]string

func (e env) Get(k string) string { return e[k] }

func TestAppend(t *testing.T) {
	defer func(l *time.Location) { time.Local = l }(time.Local)
	time.Local = time.FixedZone("X", 3600) // uWSGI's clock fields are local time
	start := time.Date(2026, 11, 30, 6, 58, 34, 123456000, time.Local)
	r := &Request{Method: "GET", URI: "/p?q=1", Proto: "HTTP/1.1", Addr: "10.0.0.1", Status: 404,
		BodySize: 12, HeaderSize: 53, ContentLength: 3, Headers: 2, Vars: 18, PktSize: 175, Core: 3,
		Start: start, Duration: 1500 * time.Microsecond, Env: env{"HTTP_X": "x"}, Logvars: env{"lv": "v"}}
	f := Compile(`%(addr) %(user) "%(method) %(uri) %(proto)" %(status) %(rsize) %(hsize) %(size) %(cl) %(headers) `+
		`%(vars) %(pktsize) %(core) %(pid) %(wid) %(switches) %(var.HTTP_X) %(var.NO) %(lv) %(nolv) %(metric.m) `+
		`%(micros) %(msecs) %(secs) %(time) %(tmsecs) %(tmicros) [%(ltime)] [%(ctime)] [%(ftime)] %(werr) %(ioerr)`, "", 7, 2)
	want := `10.0.0.1 - "GET /p?q=1 HTTP/1.1" 404 12 53 65 3 2 18 175 3 7 2 1 x - v - 0 1500 1 0.001500 ` +
		`1796018314 1796018314123 1796018314123456 [30/Nov/2026:06:58:34 +0100] [Mon Nov 30 06:58:34 2026] [30/Nov/2026:06:58:34 +0100] 0 0` + "\n"
	if got := string(f.Append(nil, r)); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	f = Compile("[%(ftime)]", "%Y-%m-%d", 1, 1)
	if got := string(f.Append(nil, r)); got != "[2026-11-30]\n" {
		t.Errorf("ftime with log-date: %q", got)
	}
}

// Strftime prints what C's strftime prints (Python's time.strftime is
// libc's) for every conversion, in two time zones.
func TestStrftimeAgreesWithC(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("no /usr/bin/python3")
	}
	convs := "aAbBcCdDeFgGhHIjklmMnpPrRsStTuUVwWxXyYzZ%"
	var format strings.Builder
	for _, c := range convs {
		format.WriteString("[%" + string(c) + "]")
	}
	format.WriteString("[%Q]")
	for _, tz := range []string{"UTC", "America/New_York", "Asia/Kolkata"} {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			t.Skip(err)
		}
		for _, sec := range []int64{0, 1796018314, 1735689599, 1709251200 + 13*3600} {
			cmd := exec.Command(py, "-c", "import sys,time; sys.stdout.write(time.strftime(sys.argv[1], time.localtime(int(sys.argv[2]))))",
				format.String(), strconv.FormatInt(sec, 10))
			cmd.Env = []string{"TZ=" + tz, "LC_ALL=C"}
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(Strftime(nil, format.String(), time.Unix(sec, 0).In(loc))); got != string(out) {
				t.Errorf("TZ=%s %d:\nC:  %q\nGo: %q", tz, sec, out, got)
			}
		}
	}
}

func TestOnly(t *testing.T) {
	if ParseOnly("") != nil || ParseOnly("slow=x") != nil {
		t.Fatal("an empty rule must be nil")
	}
	o := ParseOnly("4xx,slow=200,big=4000")
	for _, tc := range []struct {
		st   int
		size int64
		took time.Duration
		want bool
	}{{404, 1, 0, true}, {500, 1, 0, false}, {200, 1, 199 * time.Millisecond, false},
		{200, 1, 200 * time.Millisecond, true}, {200, 4000, 0, true}, {200, 0, 0, false}} {
		if got := o.Match(tc.st, tc.size, tc.took); got != tc.want {
			t.Errorf("%+v: %v", tc, got)
		}
	}
	if !ParseOnly("zero").Match(200, 0, 0) || !ParseOnly("5xx").Match(503, 9, 0) {
		t.Error("zero, 5xx")
	}
}

func BenchmarkAppend(b *testing.B) {
	f := Compile(`%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" %(msecs)`, "", 1, 1)
	r := &Request{Method: "GET", URI: "/user/x", Proto: "HTTP/1.1", Addr: "127.0.0.1", Status: 200, BodySize: 12,
		HeaderSize: 40, UserAgent: "wrk", Start: time.Now(), Duration: time.Millisecond}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = f.Append(buf[:0], r)
	}
}
