package frontend

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supervise-go/supervise/uwsgi"
)

// framingVector is one case of testdata/http-framing.json (see
// testdata/README.md).
type framingVector struct {
	Name    string `json:"name"`
	Request string `json:"request"`
	Verdict string `json:"verdict"`
	Served  int    `json:"served"`
	Body    string `json:"body"`
	Status  int    `json:"-"` // the status to expect, where known
	Nginx   string `json:"nginx"`
}

func loadFramingVectors(t testing.TB) []framingVector {
	t.Helper()
	b, err := os.ReadFile("../testdata/http-framing.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []framingVector
	if err := json.Unmarshal(b, &vs); err != nil {
		t.Fatalf("testdata/http-framing.json: %v", err)
	}
	return vs
}

// echoBody answers 200 with the request's body.
func echoBody(c net.Conn, _ *uwsgi.Packet, body []byte) {
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// framingOutcome is what a client saw sending one vector on one connection.
type framingOutcome struct {
	statuses []int
	bodies   []string
	closed   bool // the server closed the connection after the last answer
}

// sendVector writes v's bytes to addr and reads answers: as many as v
// says are served, or until the first error status, then (after an error
// status) waits for the close.
func sendVector(t *testing.T, addr string, v framingVector) framingOutcome {
	t.Helper()
	c, br := dialFront(t, addr)
	return sendVectorOn(t, c, br, v)
}

// sendVectorOn is sendVector on a connection of the caller's.
func sendVectorOn(t *testing.T, c net.Conn, br *bufio.Reader, v framingVector) framingOutcome {
	t.Helper()
	if _, err := io.WriteString(c, v.Request); err != nil {
		t.Fatal(err)
	}
	var o framingOutcome
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			o.closed = errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
			if !o.closed {
				t.Fatalf("reading an answer: %v", err)
			}
			return o
		}
		b, _ := io.ReadAll(resp.Body)
		o.statuses = append(o.statuses, resp.StatusCode)
		o.bodies = append(o.bodies, string(b))
		if resp.StatusCode >= 400 {
			_, err := br.ReadByte()
			o.closed = err != nil
			return o
		}
		if v.Verdict == "serve" && len(o.statuses) == v.Served {
			return o
		}
	}
}

// checkOutcome holds o against v's verdict, status, served count and body.
func checkOutcome(t *testing.T, v framingVector, o framingOutcome, served int, firstBody []byte) {
	t.Helper()
	switch v.Verdict {
	case "serve":
		if len(o.statuses) != v.Served {
			t.Errorf("answers %v (closed %v); want %d served", o.statuses, o.closed, v.Served)
		}
		for _, st := range o.statuses {
			if st != 200 {
				t.Errorf("answers %v; want all 200", o.statuses)
				break
			}
		}
		if v.Body != "" && string(firstBody) != v.Body {
			t.Errorf("app read body %q; want %q", firstBody, v.Body)
		}
	case "reject":
		last := 0
		if len(o.statuses) > 0 {
			last = o.statuses[len(o.statuses)-1]
		}
		if last < 400 || !o.closed {
			t.Errorf("answers %v, closed %v; want an error status and the connection closed", o.statuses, o.closed)
		}
		want := v.Status
		if want == 0 {
			want = 400 // as nginx refuses every other case
		}
		if last != want {
			t.Errorf("status %d; want %d", last, want)
		}
	default:
		t.Fatalf("verdict %q: want serve or reject", v.Verdict)
	}
	if served != v.Served {
		t.Errorf("%d requests reached the worker; want %d", served, v.Served)
	}
}

// TestFramingVectors runs the shared framing table through the event
// loop and through net/http alone, against a fake worker.
func TestFramingVectors(t *testing.T) {
	vs := loadFramingVectors(t)
	for _, mode := range []struct {
		name    string
		noLoop  bool
		wantLog bool
	}{{"loop", false, true}, {"net-http", true, true}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := tempDir(t)
			for i, v := range vs {
				t.Run(strings.ReplaceAll(v.Name, " ", "_"), func(t *testing.T) {
					w := startFakeWorker(t, dir, fmt.Sprintf("w%d.sock", i), echoBody)
					base, logs := frontFor(t, Config{Backends: []string{w.path}, NoEventLoop: mode.noLoop})
					if nginxStatus(v) != 0 && strings.HasPrefix(v.Nginx, v.Verdict) {
						v.Status = nginxStatus(v) // the same verdict as nginx, with its status
					}
					o := sendVector(t, base, v)
					_, body := w.first()
					checkOutcome(t, v, o, w.count(), body)
					// A refusal is logged: by the guard, or as a request.
					if l := logs.String(); v.Verdict == "reject" && !strings.Contains(l, "smuggle") &&
						!strings.Contains(l, "status=4") && !strings.Contains(l, "status=5") {
						t.Errorf("no log line for the refused request:\n%s", l)
					}
				})
			}
		})
	}
}

func (w *fakeWorker) first() (*uwsgi.Packet, []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.got) == 0 {
		return nil, nil
	}
	return w.got[0], w.body[0]
}

// TestFramingGuardInPieces feeds a guarded stream one byte at a time:
// the guard follows heads and bodies across reads.
func TestFramingGuardInPieces(t *testing.T) {
	for _, v := range loadFramingVectors(t) {
		whole := guardAll(t, v.Request, len(v.Request))
		single := guardAll(t, v.Request, 1)
		if whole != single {
			t.Errorf("%s: whole %q, byte by byte %q", v.Name, whole, single)
		}
		refused := strings.HasSuffix(whole, string(guardHead400)) || strings.HasSuffix(whole, string(guardHead501))
		switch {
		case v.Verdict == "serve" && whole != v.Request:
			t.Errorf("%s: passed %q; want the bytes unchanged", v.Name, whole)
		case !refused && !strings.HasPrefix(v.Request, whole):
			t.Errorf("%s: passed %q; want the bytes unchanged, or cut short", v.Name, whole)
		}
	}
}

// guardAll passes s through a guard in reads of at most n bytes.
func guardAll(t testing.TB, s string, n int) string {
	g := framingGuard{maxHead: 8192}
	src := func(p []byte) (int, error) {
		if s == "" {
			return 0, io.EOF
		}
		k := copy(p[:min(len(p), n)], s)
		s = s[k:]
		return k, nil
	}
	r := readerFunc(func(p []byte) (int, error) { return g.read(src, p) })
	b, err := io.ReadAll(bufio.NewReaderSize(r, 16))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// TestAnswerHeaderWithCTL502: a worker's answer head with a bare LF or CR
// or another control byte in a header line (an app echoing input into a
// header) never reaches the client: 502 and a log line, on both paths.
func TestAnswerHeaderWithCTL502(t *testing.T) {
	heads := map[string]string{
		"bare LF": "X-Echo: a\nSet-Cookie: evil=1\r\n",
		"bare CR": "X-Echo: a\rSet-Cookie: evil=1\r\n",
		"NUL":     "X-Echo: a\x00Set-Cookie: evil=1\r\n",
		"ESC":     "X-Echo: a\x1bSet-Cookie: evil=1\r\n",
		"status":  "",
		"long":    "X-Long: " + strings.Repeat("a", 40000) + "\r\nX-Echo: a\nSet-Cookie: evil=1\r\n", // past every buffer
	}
	for _, noLoop := range []bool{false, true} {
		for name, extra := range heads {
			t.Run(fmt.Sprintf("%s/noloop=%v", name, noLoop), func(t *testing.T) {
				dir := tempDir(t)
				status := "HTTP/1.1 200 OK\r\n"
				if name == "status" {
					status = "HTTP/1.1 200 O\x01K\r\nSet-Cookie: evil=1\r\n"
				}
				w := startFakeWorker(t, dir, "w.sock", func(c net.Conn, _ *uwsgi.Packet, _ []byte) {
					io.WriteString(c, status+extra+"Content-Length: 2\r\n\r\nok")
				})
				base, logs := frontFor(t, Config{Backends: []string{w.path}, NoEventLoop: noLoop})
				c, br := dialFront(t, base)
				io.WriteString(c, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
				resp, _ := readAnswer(t, br, "GET")
				if resp.StatusCode != 502 || resp.Header.Get("Set-Cookie") != "" {
					t.Errorf("answer %d %v; want 502 without the app's headers", resp.StatusCode, resp.Header)
				}
				if n := strings.Count(logs.String(), "not well formed"); n != 1 {
					t.Errorf("%d log lines about the head; want 1:\n%s", n, logs)
				}
			})
		}
	}
}

// FuzzFramingGuard: whatever the bytes, the guard passes the same stream
// read whole or in small pieces, and what it passes is the input, cut
// short, or the input up to a head it refused followed by the head that
// makes net/http refuse it.
func FuzzFramingGuard(f *testing.F) {
	for _, v := range loadFramingVectors(f) {
		f.Add(v.Request, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, piece uint8) {
		if len(s) > 1<<14 {
			return
		}
		whole := guardAll(t, s, len(s)+1)
		pieces := guardAll(t, s, int(piece%7)+1)
		if whole != pieces {
			t.Fatalf("whole %q, in pieces %q", whole, pieces)
		}
		for _, refusal := range []string{string(guardHead400), string(guardHead501)} {
			if strings.HasSuffix(whole, refusal) && strings.HasPrefix(s, strings.TrimSuffix(whole, refusal)) {
				return
			}
		}
		if !strings.HasPrefix(s, whole) {
			t.Fatalf("passed %q of %q", whole, s)
		}
	})
}

// TestFramingVectorsTLS runs the table over HTTPS with HTTP/1.1, which
// net/http serves: the guard reads the decrypted stream.
func TestFramingVectorsTLS(t *testing.T) {
	dir := tempDir(t)
	certFile, keyFile := writeTestCert(t, dir)
	for i, v := range loadFramingVectors(t) {
		t.Run(strings.ReplaceAll(v.Name, " ", "_"), func(t *testing.T) {
			w := startFakeWorker(t, dir, fmt.Sprintf("w%d.sock", i), echoBody)
			s, err := New(Config{Backends: []string{w.path}, DisableLogging: true})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { s.ServeTLS(ln, certFile, keyFile); close(done) }()
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s.Shutdown(ctx)
				<-done
			})
			c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			if nginxStatus(v) != 0 && strings.HasPrefix(v.Nginx, v.Verdict) {
				v.Status = nginxStatus(v)
			}
			o := sendVectorOn(t, c, bufio.NewReader(c), v)
			_, body := w.first()
			checkOutcome(t, v, o, w.count(), body)
		})
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeTestCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "frontend test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
