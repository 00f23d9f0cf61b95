package python_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// asgi.py's parsers (the HTTP/1.1 head, chunked bodies, the WebSocket
// frame codec, the uwsgi vars path), and uwsgi_websocket.py's codec, driven in one Python process by
// testdata/asgi_driver.py: a fake transport, the bytes fed in pieces cut
// where the test says. Each outcome is checked against a model written
// here from RFC 6455 / RFC 9112, and against the same bytes cut elsewhere.

type asgiDriver struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

type driverAnswer struct {
	Seen       []map[string]any `json:"seen"`
	Out        []byte           `json:"out"`
	Closed     bool             `json:"closed"`
	Errors     []string         `json:"errors"`
	Data       []byte           `json:"data"`
	Rest       []byte           `json:"rest"`
	Error      *string          `json:"error"`
	Incomplete bool             `json:"incomplete"`
}

func startASGIDriver(tb testing.TB) *asgiDriver {
	tb.Helper()
	dir := runtimeDir(tb)
	driver, err := filepath.Abs(filepath.Join("testdata", "asgi_driver.py"))
	if err != nil {
		tb.Fatal(err)
	}
	d := &asgiDriver{cmd: exec.Command(python3, driver, dir)}
	d.cmd.Stderr = os.Stderr
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	d.out = bufio.NewReaderSize(out, 1<<20)
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		d.in.Close()
		d.cmd.Wait()
	})
	return d
}

func (d *asgiDriver) do(tb testing.TB, kind string, data []byte, cuts ...int) driverAnswer {
	tb.Helper()
	req, _ := json.Marshal(map[string]any{"kind": kind, "data": data, "cuts": cuts})
	if _, err := d.in.Write(append(req, '\n')); err != nil {
		tb.Fatalf("driver: %v", err)
	}
	type result struct {
		line []byte
		err  error
	}
	got := make(chan result, 1)
	go func() {
		line, err := d.out.ReadBytes('\n')
		got <- result{line, err}
	}()
	var line []byte
	select {
	case r := <-got:
		if r.err != nil {
			tb.Fatalf("driver died on %s %q: %v", kind, data, r.err)
		}
		line = r.line
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		tb.Fatalf("asgi.py stuck for 30 s on %s %q cut at %v", kind, data, cuts)
	}
	var a driverAnswer
	if err := json.Unmarshal(line, &a); err != nil {
		tb.Fatalf("driver answered %q: %v", line, err)
	}
	if len(a.Errors) > 0 {
		tb.Fatalf("%s %q cut at %v: asgi.py raised %v", kind, data, cuts, a.Errors)
	}
	return a
}

// ---------------------------------------------------------- WebSockets

const wsMax = 1 << 20 // asgi.py's WS_MAX

// wsOutcome is what a server does with a client's frames: the messages
// its app receives, the pongs it sends, and how it closes (0: it does
// not; the close frame's code, or -1 for a close frame without one) and
// the code the app's websocket.disconnect carries.
type wsOutcome struct {
	Messages   []string // "t:" text or "b:" bytes
	Pongs      []string
	CloseSent  int
	Disconnect int
}

func wsValidCloseCode(c int) bool {
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999)
}

// wsModel decodes masked client frames as RFC 6455 says a server must,
// failing the connection at the first error with 1002 (protocol error),
// 1007 (text not UTF-8) or 1009 (a message larger than wsMax).
func wsModel(data []byte) wsOutcome {
	var o wsOutcome
	fail := func(code int) wsOutcome {
		o.CloseSent, o.Disconnect = code, code
		return o
	}
	var frag []byte
	fragOp := byte(0)
	for {
		if len(data) < 2 {
			break
		}
		b0, b1 := data[0], data[1]
		fin, op, size := b0&0x80 != 0, b0&0x0f, uint64(b1&0x7f)
		if b0&0x70 != 0 || (op > 2 && op < 8) || op > 10 {
			return fail(1002)
		}
		if op >= 8 && (!fin || size > 125) {
			return fail(1002)
		}
		if b1&0x80 == 0 {
			return fail(1002)
		}
		if op == 0 && fragOp == 0 || (op == 1 || op == 2) && fragOp != 0 {
			return fail(1002)
		}
		pos := 2
		if size == 126 {
			if len(data) < 4 {
				break
			}
			size, pos = uint64(binary.BigEndian.Uint16(data[2:])), 4
		} else if size == 127 {
			if len(data) < 10 {
				break
			}
			size, pos = binary.BigEndian.Uint64(data[2:]), 10
			if size>>63 != 0 {
				return fail(1002)
			}
		}
		if op < 8 && uint64(len(frag))+size > wsMax {
			return fail(1009)
		}
		if uint64(len(data)-pos) < 4+size {
			break
		}
		mask := data[pos : pos+4]
		payload := make([]byte, size)
		for i := range payload {
			payload[i] = data[pos+4+i] ^ mask[i%4]
		}
		data = data[pos+4+int(size):]
		switch op {
		case 8:
			if len(payload) == 0 {
				o.CloseSent, o.Disconnect = -1, 1005
				return o
			}
			code := int(binary.BigEndian.Uint16(append(payload, 0)))
			if len(payload) == 1 || !wsValidCloseCode(code) {
				return fail(1002)
			}
			if !utf8.Valid(payload[2:]) {
				return fail(1007)
			}
			o.CloseSent, o.Disconnect = code, code
			return o
		case 9:
			o.Pongs = append(o.Pongs, string(payload))
			continue
		case 10:
			continue
		}
		if op != 0 {
			fragOp = op
		}
		frag = append(frag, payload...)
		if !fin {
			continue
		}
		if fragOp == 1 {
			if !utf8.Valid(frag) {
				return fail(1007)
			}
			o.Messages = append(o.Messages, "t:"+string(frag))
		} else {
			o.Messages = append(o.Messages, "b:"+string(frag))
		}
		frag, fragOp = nil, 0
	}
	o.Disconnect = 1006 // the test's client goes away
	return o
}

// wsOutcomeOf reads the driver's answer: the app's messages, and the
// server's frames (unmasked, never fragmented) from its output.
func wsOutcomeOf(tb testing.TB, a driverAnswer) wsOutcome {
	tb.Helper()
	var o wsOutcome
	for _, m := range a.Seen {
		switch {
		case m["text"] != nil:
			o.Messages = append(o.Messages, "t:"+m["text"].(string))
		case m["bytes"] != nil:
			b, _ := base64.StdEncoding.DecodeString(m["bytes"].(string))
			o.Messages = append(o.Messages, "b:"+string(b))
		case m["disconnect"] != nil:
			o.Disconnect = int(m["disconnect"].(float64))
		}
	}
	out := a.Out
	for len(out) > 0 {
		if len(out) < 2 || out[1]&0x80 != 0 || out[1]&0x7f > 125 || out[0]&0xf0 != 0x80 {
			tb.Fatalf("the server wrote a frame it should not: % x", out)
		}
		op, n := out[0]&0x0f, int(out[1])
		if len(out) < 2+n {
			tb.Fatalf("the server wrote a short frame: % x", out)
		}
		payload := out[2 : 2+n]
		out = out[2+n:]
		switch op {
		case 10:
			o.Pongs = append(o.Pongs, string(payload))
		case 8:
			if o.CloseSent != 0 {
				tb.Fatalf("the server sent two close frames")
			}
			o.CloseSent = -1
			if n >= 2 {
				o.CloseSent = int(binary.BigEndian.Uint16(payload))
			}
		default:
			tb.Fatalf("the server sent op %d unasked", op)
		}
	}
	return o
}

type wsFrame struct {
	b0     byte // FIN, RSV and opcode
	masked bool
	length int // -1: len(payload)
	long   bool
	data   []byte
}

func (f wsFrame) bytes() []byte {
	n := f.length
	if n < 0 {
		n = len(f.data)
	}
	out := []byte{f.b0}
	m := byte(0)
	if f.masked {
		m = 0x80
	}
	switch {
	case f.long:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	case n < 126:
		out = append(out, m|byte(n))
	case n < 65536:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !f.masked {
		return append(out, f.data...)
	}
	mask := []byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, mask...)
	for i, b := range f.data {
		out = append(out, b^mask[i%4])
	}
	return out
}

func frames(fs ...wsFrame) []byte {
	var out []byte
	for _, f := range fs {
		out = append(out, f.bytes()...)
	}
	return out
}

func mf(b0 byte, data string) wsFrame {
	return wsFrame{b0: b0, masked: true, length: -1, data: []byte(data)}
}

func closePayload(code int, reason string) string {
	return string(binary.BigEndian.AppendUint16(nil, uint16(code))) + reason
}

var wsCases = []struct {
	name  string
	data  []byte
	close int // the close code the server must send (0: none, -1: an empty close)
}{
	{"text, binary, ping, close", frames(mf(0x81, "héllo"), mf(0x82, "\x00\xff"), mf(0x89, "p"), mf(0x88, closePayload(1000, "bye"))), 1000},
	{"fragmented text with a ping between", frames(mf(0x01, "ab"), mf(0x89, "x"), mf(0x00, "c"), mf(0x80, "d"), mf(0x88, "")), -1},
	{"16-bit length", frames(mf(0x82, strings.Repeat("z", 300)), mf(0x88, closePayload(1001, ""))), 1001},
	{"64-bit length", frames(mf(0x82, strings.Repeat("z", 70000))), 0},
	{"reserved bit 1", frames(mf(0xc1, "x")), 1002},
	{"reserved bits on a close", frames(mf(0xb8, "")), 1002},
	{"unmasked client frame", frames(wsFrame{b0: 0x81, length: -1, data: []byte("hi")}), 1002},
	{"unknown data opcode 3", frames(mf(0x83, "")), 1002},
	{"unknown control opcode 11", frames(mf(0x8b, "")), 1002},
	{"ping of 126 bytes", frames(mf(0x89, strings.Repeat("p", 126))), 1002},
	{"fragmented ping", frames(mf(0x09, "p")), 1002},
	{"continuation without a message", frames(mf(0x80, "x")), 1002},
	{"new message inside a fragmented one", frames(mf(0x01, "a"), mf(0x81, "b")), 1002},
	{"text not UTF-8", frames(mf(0x81, "\xff\xfe")), 1007},
	{"fragmented text not UTF-8 (split code point is fine)", frames(mf(0x01, "\xc3"), mf(0x80, "\xa9")), 0},
	{"fragmented text ending mid code point", frames(mf(0x01, "a"), mf(0x80, "\xc3")), 1007},
	{"close reason not UTF-8", frames(mf(0x88, closePayload(1000, "\xff"))), 1007},
	{"close with a 1-byte payload", frames(mf(0x88, "\x03")), 1002},
	{"close code 1005 on the wire", frames(mf(0x88, closePayload(1005, ""))), 1002},
	{"close code 999", frames(mf(0x88, closePayload(999, ""))), 1002},
	{"close code 2000", frames(mf(0x88, closePayload(2000, ""))), 1002},
	{"close code 4999", frames(mf(0x88, closePayload(4999, ""))), 4999},
	{"message over 1 MiB", frames(mf(0x82, strings.Repeat("a", wsMax+1))), 1009},
	{"announced 2 GiB frame, no payload yet", frames(wsFrame{b0: 0x82, masked: true, length: 1 << 31}), 1009},
	{"fragments adding up past 1 MiB", frames(mf(0x02, strings.Repeat("a", wsMax/2+1)), wsFrame{b0: 0x80, masked: true, length: wsMax / 2}), 1009},
	{"frames after a close are ignored", frames(mf(0x88, closePayload(1000, "")), mf(0x81, "late")), 1000},
}

// Every case against the model, whole and cut in small pieces, with the
// close code spelled out.
func TestASGIWebSocketCodec(t *testing.T) {
	d := startASGIDriver(t)
	topBit := frames(wsFrame{b0: 0x82, masked: true, long: true, length: 0})
	topBit[2] = 0x80
	wsCases = append(wsCases, struct {
		name  string
		data  []byte
		close int
	}{"64-bit length with its top bit set", topBit, 1002})
	for _, c := range wsCases {
		want := wsModel(c.data)
		if want.CloseSent != c.close {
			t.Fatalf("%s: the model closes with %d, the case says %d", c.name, want.CloseSent, c.close)
		}
		for _, cuts := range [][]int{nil, {1, 2, 3, 5, 7, 11}, everyNth(len(c.data), 3)} {
			got := wsOutcomeOf(t, d.do(t, "ws", c.data, cuts...))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s (cut at %d places): got %+v, want %+v", c.name, len(cuts), short(got), short(want))
			}
		}
		if got, want := wsgiWSOutcome(t, d, c.data), wsgiView(want); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: uwsgi.websocket_recv: got %+v, want %+v", c.name, short(got), short(want))
		}
	}
}

// wsgiWSOutcome runs the frames through uwsgi_websocket.py's codec
// (uwsgi.websocket_recv until it raises); wsgiView is what the model
// says it must show: messages as bytes (text and binary alike), the
// pongs and the close frame, no disconnect code.
func wsgiWSOutcome(t *testing.T, d *asgiDriver, data []byte) wsOutcome {
	t.Helper()
	o := wsOutcomeOf(t, d.do(t, "wsgi-ws", data))
	for i, m := range o.Messages {
		o.Messages[i] = strings.TrimPrefix(m, "b:")
	}
	o.Disconnect = 0
	return o
}

func wsgiView(o wsOutcome) wsOutcome {
	msgs := make([]string, len(o.Messages))
	for i, m := range o.Messages {
		msgs[i] = m[2:]
	}
	o.Messages, o.Disconnect = msgs, 0
	if len(o.Messages) == 0 {
		o.Messages = nil
	}
	return o
}

func everyNth(n, step int) []int {
	if n > 4096 {
		n = 4096
	}
	var cuts []int
	for i := step; i < n; i += step {
		cuts = append(cuts, i)
	}
	return cuts
}

func short(o wsOutcome) wsOutcome {
	for i, m := range o.Messages {
		if len(m) > 40 {
			o.Messages[i] = fmt.Sprintf("%s...(%d bytes)", m[:40], len(m))
		}
	}
	return o
}

// cutsFrom turns fuzzer bytes into cut offsets.
func cutsFrom(b []byte, n int) []int {
	if n == 0 {
		return nil
	}
	var cuts []int
	for i := 0; i+1 < len(b); i += 2 {
		cuts = append(cuts, int(binary.BigEndian.Uint16(b[i:]))%n)
	}
	return cuts
}

func FuzzASGIWebSocketFrames(f *testing.F) {
	for _, c := range wsCases {
		if len(c.data) < 4096 {
			f.Add(c.data, []byte{0, 3, 0, 9})
		}
	}
	d := startASGIDriver(f)
	f.Fuzz(func(t *testing.T, data, cutBytes []byte) {
		want := wsModel(data)
		got := wsOutcomeOf(t, d.do(t, "ws", data, cutsFrom(cutBytes, len(data))...))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("% x: got %+v, want %+v", data, short(got), short(want))
		}
		if got, want := wsgiWSOutcome(t, d, data), wsgiView(want); !reflect.DeepEqual(got, want) {
			t.Fatalf("% x: uwsgi.websocket_recv: got %+v, want %+v", data, short(got), short(want))
		}
	})
}

// ------------------------------------------------------- chunked bodies

// chunkedModel decodes a chunked body as RFC 9112 7.1 says (chunk-size is
// 1 to 15 hex digits, BWS and extensions after it; trailer fields are
// field-lines; every line ends in CRLF and is at most 4096 bytes): the
// data, the bytes after the body, and whether it is malformed or not yet
// complete.
func chunkedModel(b []byte) (data, rest []byte, bad, incomplete bool) {
	line := func() ([]byte, bool, bool) { // the line, found, too long or bad
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			return nil, false, len(b) > 4096
		}
		if i > 4096 {
			return nil, false, true
		}
		l := b[:i]
		b = b[i+2:]
		return l, true, false
	}
	for {
		l, ok, tooLong := line()
		if tooLong {
			return data, nil, true, false
		}
		if !ok {
			return data, nil, false, true
		}
		digits := 0
		for digits < len(l) && strings.IndexByte("0123456789abcdefABCDEF", l[digits]) >= 0 {
			digits++
		}
		if digits == 0 || digits > 15 {
			return data, nil, true, false
		}
		ext := bytes.TrimLeft(l[digits:], " \t")
		if len(l) > digits && (len(ext) == 0 || ext[0] != ';' || bytes.ContainsAny(ext, "\r\n")) {
			return data, nil, true, false
		}
		var n uint64
		fmt.Sscanf(string(l[:digits]), "%x", &n)
		if n == 0 {
			for {
				l, ok, tooLong := line()
				if tooLong || ok && len(l) > 0 && !fieldLine(l) {
					return data, nil, true, false
				}
				if !ok {
					return data, nil, false, true
				}
				if len(l) == 0 {
					return data, b, false, false
				}
			}
		}
		if uint64(len(b)) < n {
			if uint64(len(b))+2 > 0 { // data so far is delivered
				data = append(data, b...)
			}
			return data, nil, false, true
		}
		data = append(data, b[:n]...)
		b = b[n:]
		if len(b) < 2 {
			if len(b) == 1 && b[0] != '\r' {
				return data, nil, true, false
			}
			return data, nil, false, true
		}
		if b[0] != '\r' || b[1] != '\n' {
			return data, nil, true, false
		}
		b = b[2:]
	}
}

// fieldLine: token ":" then visible characters, spaces and tabs.
func fieldLine(l []byte) bool {
	name, value, ok := bytes.Cut(l, []byte(":"))
	if !ok || len(name) == 0 {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

var chunkedCases = []struct {
	name, body string
	bad        bool
}{
	{"two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT", false},
	{"extension and BWS", "3 ;name=val\r\nabc\r\n0\r\n\r\n", false},
	{"trailer fields", "1\r\nx\r\n0\r\nA: b\r\nC-D: e\tf\r\n\r\n", false},
	{"upper-case hex", "A\r\n0123456789\r\n0\r\n\r\n", false},
	{"15 hex digits (size only)", "000000000000003\r\nabc\r\n0\r\n\r\n", false},
	{"16 hex digits", "0000000000000003\r\nabc\r\n0\r\n\r\n", true},
	{"no size", "\r\nabc\r\n0\r\n\r\n", true},
	{"negative size", "-3\r\nabc\r\n0\r\n\r\n", true},
	{"0x prefix", "0x3\r\nabc\r\n0\r\n\r\n", true},
	{"bare LF after the size", "3\nabc\r\n0\r\n\r\n", true},
	{"data longer than the size", "3\r\nabcd\r\n0\r\n\r\n", true},
	{"size then garbage", "3 x\r\nabc\r\n0\r\n\r\n", true},
	{"size line over 4 KiB", "3;" + strings.Repeat("x", 5000) + "\r\nabc\r\n0\r\n\r\n", true},
	{"trailer with a bare LF", "0\r\nA: b\nGET / HTTP/1.1\r\n\r\n", true},
	{"trailer line without a colon", "0\r\nnot a field\r\n\r\n", true},
	{"trailer with a NUL", "0\r\nA: \x00\r\n\r\n", true},
	{"not finished", "3\r\nab", false},
}

func TestASGIChunkedBody(t *testing.T) {
	d := startASGIDriver(t)
	for _, c := range chunkedCases {
		_, _, bad, _ := chunkedModel([]byte(c.body))
		if bad != c.bad {
			t.Fatalf("%s: the model says bad=%v", c.name, bad)
		}
		for _, cuts := range [][]int{nil, everyNth(len(c.body), 1), {2, 4}} {
			checkChunked(t, d, []byte(c.body), cuts)
		}
	}
}

func checkChunked(t *testing.T, d *asgiDriver, body []byte, cuts []int) {
	t.Helper()
	data, rest, bad, incomplete := chunkedModel(body)
	a := d.do(t, "chunked", body, cuts...)
	switch {
	case bad:
		if a.Error == nil {
			t.Fatalf("%q cut at %v: accepted (data %q rest %q), want an error", body, cuts, a.Data, a.Rest)
		}
	case a.Error != nil:
		t.Fatalf("%q cut at %v: %s, want data %q", body, cuts, *a.Error, data)
	case incomplete:
		if !a.Incomplete || !bytes.HasPrefix(data, a.Data) {
			t.Fatalf("%q cut at %v: got data %q incomplete=%v, want a prefix of %q and more to come", body, cuts, a.Data, a.Incomplete, data)
		}
	default:
		if a.Incomplete || !bytes.Equal(a.Data, data) || !bytes.Equal(a.Rest, rest) {
			t.Fatalf("%q cut at %v: got data %q rest %q incomplete=%v, want %q %q", body, cuts, a.Data, a.Rest, a.Incomplete, data, rest)
		}
	}
}

func FuzzASGIChunkedBody(f *testing.F) {
	for _, c := range chunkedCases {
		f.Add([]byte(c.body), []byte{0, 1, 0, 5})
	}
	d := startASGIDriver(f)
	f.Fuzz(func(t *testing.T, body, cutBytes []byte) {
		checkChunked(t, d, body, cutsFrom(cutBytes, len(body)))
	})
}

// ------------------------------------------------------- request heads

// The shared framing vectors (testdata/http-framing.json) against asgi.py's
// http-socket parser, as TestHTTPFramingVectors runs them against the
// threaded worker's.
func TestASGIHTTPFramingVectors(t *testing.T) {
	d := startASGIDriver(t)
	for _, v := range loadFramingVectors(t) {
		for _, cuts := range [][]int{nil, everyNth(len(v.Request), 1)} {
			a := d.do(t, "http", []byte(v.Request), cuts...)
			resps := readResponses(t, a.Out)
			if len(a.Seen) != v.Served {
				t.Errorf("%s: %d requests reached the app, want %d", v.Name, len(a.Seen), v.Served)
			}
			switch v.Verdict {
			case "serve":
				if len(resps) != v.Served {
					t.Errorf("%s: %d responses, want %d", v.Name, len(resps), v.Served)
				}
				if v.Body != nil && len(a.Seen) > 0 && a.Seen[0]["body"] != base64.StdEncoding.EncodeToString([]byte(*v.Body)) {
					t.Errorf("%s: the app read %v, want %q", v.Name, a.Seen[0]["body"], *v.Body)
				}
			case "reject":
				if len(resps) != v.Served+1 || resps[len(resps)-1].StatusCode < 400 || !a.Closed {
					t.Errorf("%s: responses %v (closed %v), want %d served and one error", v.Name, statuses(resps), a.Closed, v.Served)
				}
			}
		}
	}
}

func readResponses(tb testing.TB, out []byte) []*http.Response {
	tb.Helper()
	r := bufio.NewReader(bytes.NewReader(out))
	var resps []*http.Response
	for {
		if _, err := r.Peek(1); err == io.EOF {
			return resps
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			tb.Fatalf("after %d responses, unreadable output %q: %v", len(resps), out, err)
		}
		io.Copy(io.Discard, resp.Body)
		resps = append(resps, resp)
	}
}

func statuses(resps []*http.Response) []int {
	var s []int
	for _, r := range resps {
		s = append(s, r.StatusCode)
	}
	return s
}

// Any bytes on an http-socket: asgi.py never raises, answers the same
// however the bytes are cut, and serves the same requests with the same
// statuses as the threaded worker (worker.py) does.
func FuzzASGIHTTPRequest(f *testing.F) {
	f.Add([]byte("GET /a HTTP/1.1\r\nHost: t\r\n\r\n"), []byte{0, 5})
	f.Add([]byte("POST /a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), []byte{0, 40})
	f.Add([]byte("GET / HTTP/1.1\r\nX: "+strings.Repeat("y", 9000)+"\r\n\r\n"), []byte{})
	f.Add([]byte("GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"), []byte{})
	if raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "http-framing.json")); err == nil {
		var vs []framingVector
		json.Unmarshal(raw, &vs)
		for _, v := range vs {
			f.Add([]byte(v.Request), []byte{0, 7})
		}
	}
	d := startASGIDriver(f)
	f.Fuzz(func(t *testing.T, data, cutBytes []byte) {
		whole := d.do(t, "http", data)
		cut := d.do(t, "http", data, cutsFrom(cutBytes, len(data))...)
		if !reflect.DeepEqual(whole.Seen, cut.Seen) || !bytes.Equal(whole.Out, cut.Out) {
			t.Fatalf("%q: whole: %v %q; cut: %v %q", data, whole.Seen, whole.Out, cut.Seen, cut.Out)
		}
		if bytes.Contains(data, []byte("pgrade")) {
			return // a WebSocket handshake: the threaded worker has no WebSockets
		}
		wsgi := d.do(t, "wsgi-http", data)
		a, b := statuses(readResponses(t, whole.Out)), statuses(readResponses(t, wsgi.Out))
		if !reflect.DeepEqual(whole.Seen, wsgi.Seen) || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: asgi.py served %v with %v; worker.py %v with %v", data, whole.Seen, a, wsgi.Seen, b)
		}
	})
}

// Any bytes on a uwsgi socket: asgi.py never raises and answers the same
// however they are cut.
func FuzzASGIUwsgiRequest(f *testing.F) {
	pkt := func(vars ...string) []byte {
		var body []byte
		for _, s := range vars {
			body = binary.LittleEndian.AppendUint16(body, uint16(len(s)))
			body = append(body, s...)
		}
		return append([]byte{0, byte(len(body)), byte(len(body) >> 8), 0}, body...)
	}
	f.Add(pkt("REQUEST_METHOD", "GET", "PATH_INFO", "/x"), []byte{0, 3})
	f.Add(append(pkt("REQUEST_METHOD", "POST", "PATH_INFO", "/p", "CONTENT_LENGTH", "3"), "abc"...), []byte{0, 3})
	f.Add(pkt("REQUEST_METHOD", "GET", "HTTP_UPGRADE", "websocket", "HTTP_CONNECTION", "Upgrade",
		"HTTP_SEC_WEBSOCKET_VERSION", "13", "HTTP_SEC_WEBSOCKET_KEY", "dGhlIHNhbXBsZSBub25jZQ=="), []byte{})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte{})
	d := startASGIDriver(f)
	f.Fuzz(func(t *testing.T, data, cutBytes []byte) {
		whole := d.do(t, "uwsgi", data)
		cut := d.do(t, "uwsgi", data, cutsFrom(cutBytes, len(data))...)
		if !reflect.DeepEqual(whole.Seen, cut.Seen) || !bytes.Equal(whole.Out, cut.Out) {
			t.Fatalf("%q: whole: %v %q; cut: %v %q", data, whole.Seen, whole.Out, cut.Seen, cut.Out)
		}
	})
}
