package uwsgi

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// nginxVars is what nginx 1.22's `include uwsgi_params` sends for
// `curl 'http://example.com/user/bob?a=1'`.
func nginxVars() []Var {
	return []Var{{"QUERY_STRING", "a=1"}, {"REQUEST_METHOD", "GET"}, {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""},
		{"REQUEST_URI", "/user/bob?a=1"}, {"PATH_INFO", "/user/bob"}, {"DOCUMENT_ROOT", "/usr/share/nginx/html"},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"REMOTE_ADDR", "127.0.0.1"},
		{"REMOTE_PORT", "51234"}, {"SERVER_PORT", "80"}, {"SERVER_NAME", "example.com"},
		{"HTTP_HOST", "example.com"}, {"HTTP_USER_AGENT", "curl/7.88.1"}, {"HTTP_ACCEPT", "*/*"}}
}

func encode(t testing.TB, vars []Var) []byte {
	t.Helper()
	b, err := Encode(vars)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// raw builds a packet by hand: header with modifier1 m1 and the true block
// size, then block.
func raw(m1 byte, block ...byte) []byte {
	return append([]byte{m1, byte(len(block)), byte(len(block) >> 8), 0}, block...)
}

// pair hand-encodes one var, independently of AppendPacket.
func pair(k, v string) []byte {
	b := []byte{byte(len(k)), byte(len(k) >> 8)}
	b = append(b, k...)
	b = append(b, byte(len(v)), byte(len(v)>>8))
	return append(b, v...)
}

func manyVars(n int) []Var {
	vars := make([]Var, n)
	for i := range vars {
		vars[i] = Var{"HTTP_X_" + strconv.Itoa(i), "v"}
	}
	return vars
}

// errorReader yields data, then err.
type errorReader struct {
	data []byte
	err  error
}

func (r *errorReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errBoom = errors.New("boom")

func TestReadPacket(t *testing.T) {
	nginx := encode(t, nginxVars())
	for _, tc := range []struct {
		name    string
		in      []byte
		r       io.Reader // instead of in
		max     int
		want    []Var // when err is nil (nil: no vars)
		wantErr error
		size    int // SizeError.Size
		mod     int // ModifierError.Modifier1 (+1)
	}{
		{name: "nginx", in: nginx, want: nginxVars()},
		{name: "nginx by hand", in: raw(0, bytes.Join([][]byte{pair("REQUEST_METHOD", "GET"), pair("PATH_INFO", "/")}, nil)...),
			want: []Var{{"REQUEST_METHOD", "GET"}, {"PATH_INFO", "/"}}},
		{name: "empty vars block", in: raw(0)},
		{name: "empty value", in: raw(0, pair("CONTENT_TYPE", "")...), want: []Var{{"CONTENT_TYPE", ""}}},
		{name: "duplicates kept in order", in: encode(t, []Var{{"HTTP_X", "1"}, {"HTTP_Y", "0"}, {"HTTP_X", "2"}}),
			want: []Var{{"HTTP_X", "1"}, {"HTTP_Y", "0"}, {"HTTP_X", "2"}}},
		{name: "binary value", in: raw(0, pair("K", "\x00\xff\r\n")...), want: []Var{{"K", "\x00\xff\r\n"}}},
		{name: "modifier2 ignored", in: func() []byte { b := raw(0, pair("K", "v")...); b[3] = 9; return b }(), want: []Var{{"K", "v"}}},
		{name: "exactly MaxVars", in: encode(t, manyVars(MaxVars)), want: manyVars(MaxVars)},
		{name: "datasize equal to max", in: raw(0, pair("K", strings.Repeat("v", 95))...), max: 100,
			want: []Var{{"K", strings.Repeat("v", 95)}}},
		{name: "max <= 0 is the default", in: encode(t, []Var{{"K", strings.Repeat("v", 4000)}}), max: -1,
			want: []Var{{"K", strings.Repeat("v", 4000)}}},

		{name: "empty input", in: nil, wantErr: io.EOF},
		{name: "cut in header", in: nginx[:3], wantErr: io.ErrUnexpectedEOF},
		{name: "cut in block", in: nginx[:40], wantErr: io.ErrUnexpectedEOF},
		{name: "read error in header", r: &errorReader{[]byte{0, 1}, errBoom}, wantErr: errBoom},
		{name: "read error in block", r: &errorReader{nginx[:10], errBoom}, wantErr: errBoom},

		{name: "datasize over limit", in: raw(0, pair("K", strings.Repeat("v", 96))...), max: 100, wantErr: ErrTooLarge, size: 101},
		{name: "plain HTTP", in: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), wantErr: ErrTooLarge, size: 21573},
		{name: "datasize 65535 over default", in: []byte{0, 0xff, 0xff, 0, 1}, wantErr: ErrTooLarge, size: 65535},

		{name: "empty key", in: raw(0, 0, 0, 1, 0, 'v'), wantErr: ErrMalformed},
		{name: "empty key after a good pair", in: raw(0, append(pair("A", "1"), pair("", "x")...)...), wantErr: ErrMalformed},
		{name: "key past block", in: raw(0, 9, 0, 'a'), wantErr: ErrMalformed},
		{name: "value past block", in: raw(0, 1, 0, 'a', 9, 0, 'b'), wantErr: ErrMalformed},
		{name: "one stray byte", in: raw(0, append(pair("a", ""), 7)...), wantErr: ErrMalformed},
		{name: "half a key length", in: raw(0, 1), wantErr: ErrMalformed},
		{name: "no value length", in: raw(0, 1, 0, 'a'), wantErr: ErrMalformed},
		{name: "half a value length", in: raw(0, 1, 0, 'a', 1), wantErr: ErrMalformed},
		{name: "more than MaxVars", in: encode(t, manyVars(MaxVars+1)), wantErr: ErrMalformed},

		{name: "modifier1 5 (PSGI)", in: func() []byte { b, _ := AppendPacket(nil, 5, 0, nginxVars()); return b }(),
			want: nginxVars(), wantErr: ErrModifier, mod: 5 + 1},
		{name: "modifier1 100 (ping), empty", in: raw(100), wantErr: ErrModifier, mod: 100 + 1},
		{name: "modifier1 31, block not vars", in: raw(31, 'x', 'y', 'z'), wantErr: ErrModifier, mod: 31 + 1},
		{name: "modifier1 30 (nginx's old prefix idiom) is WSGI", in: func() []byte { b, _ := AppendPacket(nil, 30, 0, nginxVars()); return b }(),
			want: nginxVars()},
		{name: "modifier1 30, block not vars", in: raw(30, 'x', 'y', 'z'), wantErr: ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			if r == nil {
				r = bytes.NewReader(tc.in)
			}
			max := tc.max
			if max == 0 {
				max = DefaultBufferSize
			}
			p, err := ReadPacket(r, max)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == io.EOF && err != io.EOF {
				t.Fatalf("err = %#v, want io.EOF itself", err)
			}
			if tc.size != 0 {
				var se *SizeError
				if !errors.As(err, &se) || se.Size != tc.size {
					t.Fatalf("err = %v, want SizeError{%d}", err, tc.size)
				}
				if br, ok := r.(*bytes.Reader); ok && br.Len() != len(tc.in)-HeaderSize {
					t.Fatalf("read %d bytes past the header of an oversized packet", len(tc.in)-HeaderSize-br.Len())
				}
			}
			if tc.mod != 0 {
				var me *ModifierError
				if !errors.As(err, &me) || int(me.Modifier1) != tc.mod-1 {
					t.Fatalf("err = %v, want ModifierError{%d}", err, tc.mod-1)
				}
				if p == nil || int(p.Header.DataSize) != len(p.Block) {
					t.Fatalf("modifier error without the packet read: %+v", p)
				}
				if br := r.(*bytes.Reader); br.Len() != 0 {
					t.Fatalf("%d bytes of the block left unread", br.Len())
				}
			}
			if err == nil || tc.mod != 0 {
				if !reflect.DeepEqual(p.Vars, tc.want) {
					t.Fatalf("vars = %q\nwant %q", p.Vars, tc.want)
				}
			} else if p != nil {
				t.Fatalf("packet %+v returned with %v", p, err)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	_, err := ReadPacket(strings.NewReader("GET / HTTP/1.1\r\n"), DefaultBufferSize)
	if want := "invalid request block size: 21573 (max 4096)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("message %q, want it to contain %q", err, want)
	}
	_, err = ReadPacket(bytes.NewReader(raw(5)), DefaultBufferSize)
	if err == nil || !strings.Contains(err.Error(), "modifier1 5") {
		t.Fatalf("message %q", err)
	}
	_, err = ParseVars([]byte{1, 0, 'A', 0xff, 0xff})
	if err == nil || !strings.Contains(err.Error(), `"A"`) {
		t.Fatalf("message %q", err)
	}
}

func TestHeader(t *testing.T) {
	h := Header{Modifier1: 5, DataSize: 0x1234, Modifier2: 7}
	b := AppendHeader(nil, h)
	if !bytes.Equal(b, []byte{5, 0x34, 0x12, 7}) {
		t.Fatalf("% x", b)
	}
	if got := ParseHeader([HeaderSize]byte(b)); got != h {
		t.Fatalf("%+v", got)
	}
	p, err := ReadPacket(bytes.NewReader([]byte{0, 0, 0, 9}), 0)
	if err != nil || p.Header != (Header{Modifier2: 9}) {
		t.Fatalf("%+v %v", p, err)
	}
}

// A stream cut at any offset: io.ErrUnexpectedEOF (io.EOF at 0), never a
// panic.
func TestTruncatedStream(t *testing.T) {
	full := encode(t, nginxVars())
	for n := 0; n < len(full); n++ {
		p, err := ReadPacket(bytes.NewReader(full[:n]), DefaultBufferSize)
		switch {
		case p != nil:
			t.Fatalf("cut at %d: got a packet", n)
		case n == 0 && err != io.EOF:
			t.Fatalf("empty input: %v, want io.EOF", err)
		case n > 0 && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

// A block cut at any offset, with a header that agrees: ErrMalformed, or
// at a pair boundary a valid packet holding the pairs before the cut.
func TestTruncatedBlock(t *testing.T) {
	vars := nginxVars()
	block := encode(t, vars)[HeaderSize:]
	boundary := map[int]int{0: 0} // offset -> pairs before it
	off := 0
	for i, v := range vars {
		off += 4 + len(v.Key) + len(v.Value)
		boundary[off] = i + 1
	}
	complete := 0 // pairs wholly before the cut
	for n := 0; n < len(block); n++ {
		if k, ok := boundary[n]; ok {
			complete = k
		}
		p, err := ReadPacket(bytes.NewReader(raw(0, block[:n]...)), DefaultBufferSize)
		if _, ok := boundary[n]; ok {
			if err != nil || len(p.Vars) != complete || complete > 0 && !reflect.DeepEqual(p.Vars, vars[:complete]) {
				t.Fatalf("cut at pair boundary %d: %v %v", n, p, err)
			}
		} else if p != nil || !errors.Is(err, ErrMalformed) {
			t.Fatalf("cut at %d: %v, want ErrMalformed", n, err)
		}
		pre, err := ParseVarsPrefix(block[:n])
		if len(pre) != complete || (err == nil) != (complete > 0 || n == 0) || complete > 0 && !reflect.DeepEqual(pre, vars[:complete]) {
			t.Fatalf("prefix cut at %d: %q %v, want %d pairs", n, pre, err, complete)
		}
	}
}

func TestParseVarsPrefix(t *testing.T) {
	full := encode(t, nginxVars())[HeaderSize:]
	vars, err := ParseVarsPrefix(full[:40])
	if err != nil || len(vars) != 2 || vars[0] != (Var{"QUERY_STRING", "a=1"}) {
		t.Fatalf("%v %v", vars, err)
	}
	if vars, err := ParseVarsPrefix(full[:5]); err == nil || vars != nil {
		t.Fatalf("no complete pair: %v %v", vars, err)
	}
	if vars, err := ParseVarsPrefix(encode(t, manyVars(MaxVars+3))[HeaderSize:]); err != nil || len(vars) != MaxVars {
		t.Fatalf("too many vars: %d %v", len(vars), err)
	}
}

func TestVarsDoNotAliasBlock(t *testing.T) {
	p, err := ReadPacket(bytes.NewReader(encode(t, nginxVars())), DefaultBufferSize)
	if err != nil {
		t.Fatal(err)
	}
	clear(p.Block)
	if !reflect.DeepEqual(p.Vars, nginxVars()) {
		t.Fatal("clearing Block changed Vars")
	}
}

func TestGet(t *testing.T) {
	p := &Packet{Vars: []Var{{"A", "1"}, {"EMPTY", ""}, {"A", "2"}}}
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{{"A", "1", true}, {"EMPTY", "", true}, {"NOPE", "", false}, {"a", "", false}} {
		if v, ok := p.Get(tc.key); v != tc.want || ok != tc.ok {
			t.Errorf("Get(%q) = %q, %v", tc.key, v, ok)
		}
	}
}

func TestAppendPacket(t *testing.T) {
	// The hand-built minimal GET is the seed corpus's first file.
	want := raw(0, pair("REQUEST_METHOD", "GET")...)
	got, err := AppendPacket([]byte("prefix"), 0, 0, []Var{{"REQUEST_METHOD", "GET"}})
	if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("%q %v", got, err)
	}
	if b, err := AppendPacket(nil, 7, 3, nil); err != nil || !bytes.Equal(b, []byte{7, 0, 0, 3}) {
		t.Fatalf("empty: % x %v", b, err)
	}
	// The largest block that fits, and one byte more.
	fits := []Var{{"K", strings.Repeat("x", MaxBufferSize-5)}}
	if b, err := Encode(fits); err != nil || len(b) != HeaderSize+MaxBufferSize {
		t.Fatalf("65535-byte block: %d %v", len(b), err)
	}
	for name, vars := range map[string][]Var{
		"empty key":        {{"A", "1"}, {"", "x"}},
		"value over 65535": {{"K", strings.Repeat("x", 70000)}},
		"block over 65535": {{"K", strings.Repeat("x", MaxBufferSize-4)}},
		"sum over 65535":   {{"A", strings.Repeat("x", 40000)}, {"B", strings.Repeat("x", 40000)}},
	} {
		dst := []byte("keep")
		b, err := AppendPacket(dst, 0, 0, vars)
		if err == nil || !bytes.Equal(b, dst) {
			t.Errorf("%s: %q %v", name, b, err)
		}
		if want := ErrTooLarge; name == "empty key" {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %v", name, err)
			}
		} else if !errors.Is(err, want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReadPacketAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	pkt := encode(t, nginxVars())
	r := bytes.NewReader(pkt)
	n := testing.AllocsPerRun(100, func() {
		r.Reset(pkt)
		if _, err := ReadPacket(r, DefaultBufferSize); err != nil {
			t.Fatal(err)
		}
	})
	// Packet (with the header bytes), block, the one string, []Var.
	if n > 4 {
		t.Fatalf("%v allocations per ReadPacket, want <= 4", n)
	}
	plain := []byte("GET / HTTP/1.1\r\n")
	if n := testing.AllocsPerRun(100, func() {
		r.Reset(plain)
		ReadPacket(r, DefaultBufferSize)
	}); n > 2 {
		t.Fatalf("%v allocations rejecting an oversized packet", n)
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add(encode(f, nginxVars()))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add(encode(f, manyVars(MaxVars+1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPacket(bytes.NewReader(data), MaxBufferSize)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrTooLarge), errors.Is(err, ErrMalformed):
			if p != nil {
				t.Fatalf("packet returned with %v", err)
			}
			return
		case errors.Is(err, ErrModifier):
			if p == nil || p.Header.Modifier1 == 0 || len(p.Block) != int(p.Header.DataSize) {
				t.Fatalf("modifier error %v with packet %+v", err, p)
			}
			return
		default:
			t.Fatalf("untyped error %v", err)
		}
		if len(p.Vars) > MaxVars || len(p.Block) != int(p.Header.DataSize) {
			t.Fatalf("%d vars, block %d, datasize %d", len(p.Vars), len(p.Block), p.Header.DataSize)
		}
		// The default limit agrees wherever the packet fits it.
		if p.Header.DataSize <= DefaultBufferSize {
			q, err := ReadPacket(bytes.NewReader(data), DefaultBufferSize)
			if err != nil || !reflect.DeepEqual(q.Vars, p.Vars) {
				t.Fatalf("buffer-size 4096 disagrees: %v", err)
			}
		}
		// Re-encoding gives the same block, and it parses to the same vars.
		enc, err := AppendPacket(nil, p.Header.Modifier1, p.Header.Modifier2, p.Vars)
		if err != nil {
			t.Fatalf("parsed vars do not encode: %v", err)
		}
		if !bytes.Equal(enc, data[:HeaderSize+len(p.Block)]) {
			t.Fatalf("re-encoded packet differs:\n%q\n%q", enc, data[:HeaderSize+len(p.Block)])
		}
		again, err := ReadPacket(bytes.NewReader(enc), MaxBufferSize)
		if err != nil {
			t.Fatalf("re-encoded packet does not parse: %v", err)
		}
		if !reflect.DeepEqual(again.Vars, p.Vars) || again.Header != p.Header {
			t.Fatalf("round trip changed the packet: %q -> %q", p.Vars, again.Vars)
		}
	})
}

func BenchmarkReadPacket(b *testing.B) {
	pkt := encode(b, nginxVars())
	r := bytes.NewReader(pkt)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(pkt)
		if _, err := ReadPacket(r, DefaultBufferSize); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPacket(b *testing.B) {
	vars := nginxVars()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendPacket(buf[:0], 0, 0, vars); err != nil {
			b.Fatal(err)
		}
	}
}

// The seed corpus holds real nginx-shaped packets: they must parse.
func TestSeedCorpus(t *testing.T) {
	for name, want := range map[string]error{
		"0-minimal-get":          nil,
		"6-nginx-get":            nil,
		"7-nginx-post-with-body": nil,
		"1-plain-http":           ErrTooLarge,
		"4-empty-key":            ErrMalformed,
		"8-65-vars":              nil, // uWSGI takes 2 x max-vars: 128 at its default
		"9-truncated":            io.ErrUnexpectedEOF,
		"10-modifier-100-ping":   ErrModifier,
	} {
		b, err := os.ReadFile("testdata/fuzz/FuzzReadPacket/" + name)
		if err != nil {
			t.Fatal(err)
		}
		lit, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "go test fuzz v1\n[]byte(")
		lit, ok2 := strings.CutSuffix(lit, ")")
		data, err := strconv.Unquote(lit)
		if !ok || !ok2 || err != nil {
			t.Fatalf("%s: not a corpus file: %v", name, err)
		}
		p, err := ReadPacket(strings.NewReader(data), DefaultBufferSize)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
			continue
		}
		if name == "0-minimal-get" && data != string(encode(t, []Var{{"REQUEST_METHOD", "GET"}})) {
			t.Errorf("%s differs from Encode's", name)
		}
		if want == nil && name != "8-65-vars" {
			if m, _ := p.Get("REQUEST_METHOD"); m == "" {
				t.Errorf("%s: no REQUEST_METHOD", name)
			}
		}
	}
}
