package uwsgi

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func nginxVars() []Var {
	return []Var{{"QUERY_STRING", "a=1"}, {"REQUEST_METHOD", "GET"}, {"CONTENT_TYPE", ""}, {"CONTENT_LENGTH", ""},
		{"REQUEST_URI", "/user/bob?a=1"}, {"PATH_INFO", "/user/bob"}, {"DOCUMENT_ROOT", "/usr/share/nginx/html"},
		{"SERVER_PROTOCOL", "HTTP/1.1"}, {"REQUEST_SCHEME", "http"}, {"REMOTE_ADDR", "127.0.0.1"},
		{"REMOTE_PORT", "51234"}, {"SERVER_PORT", "80"}, {"SERVER_NAME", "example.com"},
		{"HTTP_HOST", "example.com"}, {"HTTP_USER_AGENT", "curl/7.88.1"}, {"HTTP_ACCEPT", "*/*"}}
}

func encode(t testing.TB, vars []Var) []byte {
	b, err := AppendPacket(nil, 0, 0, vars)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for name, vars := range map[string][]Var{
		"nginx":       nginxVars(),
		"empty block": {},
		"empty value": {{"CONTENT_TYPE", ""}},
		"duplicates":  {{"HTTP_X", "1"}, {"HTTP_X", "2"}},
		"binary":      {{"K", "\x00\xff\r\n"}},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := ReadPacket(bytes.NewReader(encode(t, vars)), DefaultBufferSize)
			if err != nil {
				t.Fatal(err)
			}
			if len(vars) == 0 && len(p.Vars) == 0 {
				return
			}
			if !reflect.DeepEqual(p.Vars, vars) {
				t.Fatalf("got %v", p.Vars)
			}
		})
	}
}

func TestGet(t *testing.T) {
	p := &Packet{Vars: nginxVars()}
	if v, ok := p.Get("PATH_INFO"); !ok || v != "/user/bob" {
		t.Fatal(v, ok)
	}
	if _, ok := p.Get("NOPE"); ok {
		t.Fatal("found a missing key")
	}
}

func TestTruncatedEverywhere(t *testing.T) {
	full := encode(t, nginxVars())
	for n := 0; n < len(full); n++ {
		_, err := ReadPacket(bytes.NewReader(full[:n]), DefaultBufferSize)
		switch {
		case n == 0 && err != io.EOF:
			t.Fatalf("empty input: %v, want io.EOF", err)
		case n > 0 && !errors.Is(err, io.ErrUnexpectedEOF):
			t.Fatalf("cut at %d: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestTooLarge(t *testing.T) {
	_, err := ReadPacket(strings.NewReader("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), DefaultBufferSize)
	var se *SizeError
	if !errors.As(err, &se) || !errors.Is(err, ErrTooLarge) || se.Size != 21573 {
		t.Fatalf("plain HTTP: %v, want size 21573 > 4096", err)
	}
	if !strings.Contains(err.Error(), "invalid request block size: 21573 (max 4096)") {
		t.Fatalf("message %q", err)
	}
}

func TestMalformed(t *testing.T) {
	block := func(b ...byte) []byte {
		return append([]byte{0, byte(len(b)), byte(len(b) >> 8), 0}, b...)
	}
	for name, pkt := range map[string][]byte{
		"empty key":          block(0, 0, 1, 0, 'v'),
		"key past block":     block(9, 0, 'a'),
		"value past block":   block(1, 0, 'a', 9, 0, 'b'),
		"one stray byte":     block(1, 0, 'a', 0, 0, 7),
		"half a length":      block(1),
		"value length short": block(1, 0, 'a', 1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadPacket(bytes.NewReader(pkt), DefaultBufferSize); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestTooManyVars(t *testing.T) {
	var vars []Var
	for i := 0; i <= MaxVars; i++ {
		vars = append(vars, Var{"K", "v"})
	}
	if _, err := ReadPacket(bytes.NewReader(encode(t, vars)), DefaultBufferSize); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d vars: %v", len(vars), err)
	}
	if _, err := ReadPacket(bytes.NewReader(encode(t, vars[:MaxVars])), DefaultBufferSize); err != nil {
		t.Fatalf("%d vars: %v", MaxVars, err)
	}
}

func TestModifier(t *testing.T) {
	b, _ := AppendPacket(nil, 5, 0, nginxVars())
	p, err := ReadPacket(bytes.NewReader(b), DefaultBufferSize)
	var me *ModifierError
	if !errors.As(err, &me) || me.Modifier1 != 5 || p == nil {
		t.Fatalf("err = %v", err)
	}
}

func TestEncodeRefusesBadInput(t *testing.T) {
	if _, err := AppendPacket(nil, 0, 0, []Var{{"", "x"}}); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	if _, err := AppendPacket(nil, 0, 0, []Var{{"K", strings.Repeat("x", 70000)}}); !errors.Is(err, ErrTooLarge) {
		t.Fatal(err)
	}
}

func TestParseVarsPrefix(t *testing.T) {
	full := encode(t, nginxVars())[HeaderSize:]
	vars, err := ParseVarsPrefix(full[:40])
	if err != nil || len(vars) == 0 || vars[0].Key != "QUERY_STRING" {
		t.Fatalf("%v %v", vars, err)
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add(encode(f, nginxVars()))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPacket(bytes.NewReader(data), MaxBufferSize)
		if err != nil {
			return
		}
		again, err := ReadPacket(bytes.NewReader(encode(t, p.Vars)), MaxBufferSize)
		if err != nil {
			t.Fatalf("re-encoded packet does not parse: %v", err)
		}
		if len(p.Vars) > 0 && !reflect.DeepEqual(again.Vars, p.Vars) {
			t.Fatalf("round trip changed vars: %v -> %v", p.Vars, again.Vars)
		}
	})
}

func BenchmarkReadPacket(b *testing.B) {
	pkt := encode(b, nginxVars())
	r := bytes.NewReader(pkt)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		r.Reset(pkt)
		if _, err := ReadPacket(r, DefaultBufferSize); err != nil {
			b.Fatal(err)
		}
	}
}
