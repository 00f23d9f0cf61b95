package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// frontApp is a WSGI app for the front end's tests: /vars dumps the CGI
// vars it got, /stream sends one event, waits for the test to open a
// FIFO, sends another; /slow tells a FIFO it started and answers later;
// /hang never answers in time; anything else echoes the body's length
// and SHA-256.
const frontApp = `
import hashlib, json, time
def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/vars"):
        body = json.dumps({k: v for k, v in environ.items() if isinstance(v, str)}).encode()
    elif path == "/stream":
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        def events():
            yield b"data: one\n\n"
            with open(environ["QUERY_STRING"]) as f:
                f.read()
            yield b"data: two\n\n"
        return events()
    elif path == "/slow":
        with open(environ["QUERY_STRING"], "w") as f:
            f.write("started\n")
        time.sleep(0.5)
        body = b"slow done"
    elif path == "/hang":
        time.sleep(30)
        body = b"woke up"
    else:
        data = environ["wsgi.input"].read()
        body = ("%s %d %s" % (environ["REQUEST_METHOD"], len(data), hashlib.sha256(data).hexdigest())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// startFrontApp runs frontApp under a real master on a unix uwsgi socket.
func startFrontApp(t *testing.T) (dir, sock string) {
	t.Helper()
	py := debianPython(t)
	dir = shortTempDir(t)
	sock = filepath.Join(dir, "app.sock")
	writeFile(t, filepath.Join(dir, "frontapp.py"), frontApp)
	m := startMaster(t, dir, "--socket", sock, "--module", "frontapp", "--processes", "2", "--threads", "4",
		"--python-bin", py, "--chdir", dir, "--disable-logging")
	m.waitLog(`all workers ready`, 1)
	return dir, sock
}

// startFront runs `supervise http --listen 127.0.0.1:PORT args...` and
// returns it with its base URL once it listens.
func startFront(t *testing.T, dir string, args ...string) (*masterProc, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	p := startMaster(t, dir, append([]string{"http", "--listen", addr}, args...)...)
	p.waitLog(`listening: address=http://`+addr, 1)
	return p, "http://" + addr
}

func sha(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func doReq(t *testing.T, client *http.Client, method, url string, body io.Reader, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, url, err)
	}
	return resp, string(b)
}

func getVars(t *testing.T, client *http.Client, url string, header ...string) map[string]string {
	t.Helper()
	resp, body := doReq(t, client, "GET", url, nil, header...)
	var vars map[string]string
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &vars) != nil {
		t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
	}
	return vars
}

// rawHTTP sends a request exactly as written and returns the status and body.
func rawHTTP(t *testing.T, base, request string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, request)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", request, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestFrontEndPythonWorkers(t *testing.T) {
	parallel(t)
	dir, sock := startFrontApp(t)
	static := filepath.Join(dir, "static")
	os.Mkdir(static, 0o755)
	writeFile(t, filepath.Join(static, "site.css"), "body { color: #123456 }\n")
	writeFile(t, filepath.Join(dir, "secret.txt"), "TOP SECRET")
	os.Symlink(filepath.Join(dir, "secret.txt"), filepath.Join(static, "link.txt"))
	front, base := startFront(t, dir, "--to", "unix:"+sock, "--static-map", "/static="+static,
		"--backend-timeout", "1s", "--post-buffering", "4096")
	port := strings.TrimPrefix(base, "http://127.0.0.1:")

	t.Run("GET vars", func(t *testing.T) {
		v := getVars(t, nil, base+"/vars/a%20b//c/./d?x=1&y=%2F", "Cookie", "k=v")
		for k, want := range map[string]string{"PATH_INFO": "/vars/a b/c/d", "QUERY_STRING": "x=1&y=%2F",
			"REQUEST_URI": "/vars/a%20b//c/./d?x=1&y=%2F", "REQUEST_METHOD": "GET", "REMOTE_ADDR": "127.0.0.1",
			"SERVER_PORT": port, "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "HTTP_HOST": "127.0.0.1:" + port,
			"HTTP_COOKIE": "k=v", "wsgi.url_scheme": "http", "CONTENT_LENGTH": ""} {
			if v[k] != want {
				t.Errorf("%s = %q, want %q", k, v[k], want)
			}
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		resp, body := doReq(t, nil, "HEAD", base+"/anything", nil)
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("HEAD 0 ")+64) {
			t.Fatalf("HEAD: %d %q length %d", resp.StatusCode, body, resp.ContentLength)
		}
	})
	t.Run("POST 10 MB", func(t *testing.T) {
		data := bytes.Repeat([]byte("supervise front end "), 10<<20/20)
		data[777777] = '!'
		resp, body := doReq(t, nil, "POST", base+"/upload", bytes.NewReader(data))
		if want := fmt.Sprintf("POST %d %s", len(data), sha(data)); resp.StatusCode != 200 || body != want {
			t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
		}
	})
	t.Run("chunked upload", func(t *testing.T) {
		data := bytes.Repeat([]byte("chunk"), 100_000) // past post-buffering: spooled to a temp file
		resp, body := doReq(t, nil, "PUT", base+"/upload", io.MultiReader(bytes.NewReader(data)))
		if want := fmt.Sprintf("PUT %d %s", len(data), sha(data)); resp.StatusCode != 200 || body != want {
			t.Fatalf("%d %q, want %q", resp.StatusCode, body, want)
		}
	})
	t.Run("streamed response", func(t *testing.T) {
		fifo := filepath.Join(dir, "stream.fifo")
		if err := syscall.Mkfifo(fifo, 0o666); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(base + "/stream?" + fifo)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		// The app waits on the FIFO before its second event: the first
		// one arriving proves the front end does not hold it back.
		if line, err := br.ReadString('\n'); err != nil || line != "data: one\n" {
			t.Fatalf("first event %q %v", line, err)
		}
		if err := os.WriteFile(fifo, []byte("go\n"), 0o666); err != nil {
			t.Fatal(err)
		}
		if rest, err := io.ReadAll(br); err != nil || string(rest) != "\ndata: two\n\n" {
			t.Fatalf("rest %q %v", rest, err)
		}
	})
	t.Run("static file with Range", func(t *testing.T) {
		resp, body := doReq(t, nil, "GET", base+"/static/site.css", nil, "Range", "bytes=5-9")
		if resp.StatusCode != 206 || body != "{ col" || resp.Header.Get("Content-Range") != "bytes 5-9/24" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
		resp, body = doReq(t, nil, "GET", base+"/static/site.css", nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") || body != "body { color: #123456 }\n" {
			t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
		}
	})
	t.Run("path traversal refused", func(t *testing.T) {
		for _, target := range []string{"/static/../secret.txt", "/static/%2e%2e/secret.txt", "/static/..%2fsecret.txt",
			"/static/%2E%2E%2Fsecret.txt", "/static/site.css/../../secret.txt", "/static/link.txt"} {
			code, body := rawHTTP(t, base, "GET "+target+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			if strings.Contains(body, "TOP SECRET") {
				t.Errorf("%s: %d %q: a file outside the static root was served", target, code, body)
			}
		}
		if code, _ := rawHTTP(t, base, "GET /static/link.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); code != 403 {
			t.Errorf("symlink out of the root: %d, want 403", code)
		}
	})
	t.Run("oversized header 431", func(t *testing.T) {
		for _, size := range []int{5000, 30000} {
			resp, _ := doReq(t, nil, "GET", base+"/", nil, "X-Big", strings.Repeat("x", size))
			if resp.StatusCode != 431 {
				t.Errorf("%d-byte header: %d, want 431", size, resp.StatusCode)
			}
		}
	})
	t.Run("hung backend 504", func(t *testing.T) {
		resp, _ := doReq(t, nil, "GET", base+"/hang", nil)
		if resp.StatusCode != 504 {
			t.Fatalf("%d, want 504", resp.StatusCode)
		}
		front.waitLog(`backend did not answer within backend-timeout; 504: .*uri=/hang`, 1)
	})
	front.waitLog(`request: method=POST uri=/upload proto=HTTP/1.1 status=200 bytes=\d+`, 1)
}

func TestFrontEndGoWorkers(t *testing.T) {
	parallel(t)
	_, dir, sock := startGoWorkers(t)
	_, base := startFront(t, dir, "--to", sock, "--disable-logging")
	if resp, body := doReq(t, nil, "GET", base+"/", nil); resp.StatusCode != 200 || !strings.HasPrefix(body, "Hello from Go (worker ") {
		t.Fatalf("GET: %d %q", resp.StatusCode, body)
	}
	if resp, body := doReq(t, nil, "HEAD", base+"/", nil); resp.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
	data := bytes.Repeat([]byte("0123456789"), 1<<20) // 10 MB
	data[4242] = 'x'
	host := strings.TrimPrefix(base, "http://")
	want := fmt.Sprintf("%d %s yes %s", len(data), sha(data), host)
	if resp, body := doReq(t, nil, "POST", base+"/echo", bytes.NewReader(data), "X-Test", "yes"); resp.StatusCode != 200 || body != want {
		t.Fatalf("POST: %d %q, want %q", resp.StatusCode, body, want)
	}
	if resp, body := doReq(t, nil, "POST", base+"/echo", io.MultiReader(bytes.NewReader(data[:300_000])), "X-Test", "yes"); resp.StatusCode != 200 ||
		body != fmt.Sprintf("300000 %s yes %s", sha(data[:300_000]), host) {
		t.Fatalf("chunked POST: %d %q", resp.StatusCode, body)
	}
	if resp, body := doReq(t, nil, "GET", base+"/stream", nil); resp.StatusCode != 200 || body != "part0 part1 part2 " {
		t.Fatalf("stream: %d %q", resp.StatusCode, body)
	}
	if resp, _ := doReq(t, nil, "GET", base+"/panic", nil); resp.StatusCode != 500 {
		t.Fatalf("panic: %d", resp.StatusCode)
	}
}

// The app sees the same vars behind supervise's front end as behind nginx
// with the stock uwsgi_params, apart from what differs by design: ports,
// DOCUMENT_ROOT and SERVER_NAME come from each server's configuration, and
// Debian's uwsgi_params sends HTTP_HOST without the port.
func TestFrontEndVarsMatchNginx(t *testing.T) {
	parallel(t)
	dir, sock := startFrontApp(t)
	ngx := startNginx(t, dir, "unix:"+sock)
	_, front := startFront(t, dir, "--to", "unix:"+sock, "--disable-logging")
	differ := map[string]bool{"REMOTE_PORT": true, "SERVER_PORT": true, "DOCUMENT_ROOT": true, "SERVER_NAME": true, "HTTP_HOST": true}
	for _, target := range []string{"/vars", "/vars?a=1&b=%20x", "/vars/x%2Fy/../z//w/", "/vars/%C3%A9t%C3%A9"} {
		a := getVars(t, nil, ngx+target, "Accept-Language", "fr", "Cookie", "c=1", "X-Custom", "v")
		b := getVars(t, nil, front+target, "Accept-Language", "fr", "Cookie", "c=1", "X-Custom", "v")
		for k, v := range a {
			if strings.Contains(k, ".") || differ[k] { // wsgi.* are the worker's own
				continue
			}
			if b[k] != v {
				t.Errorf("%s: %s = %q behind supervise, %q behind nginx", target, k, b[k], v)
			}
		}
		for k := range b {
			if _, ok := a[k]; !ok && !strings.Contains(k, ".") && !differ[k] {
				t.Errorf("%s: %s sent by supervise, not by nginx", target, k)
			}
		}
	}
}

func TestFrontEndBackendFailures(t *testing.T) {
	parallel(t)
	dir, sock := startFrontApp(t)
	dead := filepath.Join(dir, "dead.sock")
	down, downBase := startFront(t, dir, "--to", "unix:"+dead)
	if resp, _ := doReq(t, nil, "GET", downBase+"/", nil); resp.StatusCode != 502 {
		t.Fatalf("backend down: %d, want 502", resp.StatusCode)
	}
	down.waitLog(`no backend reachable; 502`, 1)

	pair, base := startFront(t, dir, "--to", "unix:"+dead, "--to", "unix:"+sock, "--header-timeout", "300ms")
	for i := 0; i < 6; i++ {
		if resp, body := doReq(t, nil, "GET", base+"/pid", nil); resp.StatusCode != 200 {
			t.Fatalf("request %d with one of two backends dead: %d %q", i, resp.StatusCode, body)
		}
	}
	pair.waitLog(`backend refused a connection; skipping it for a while: backend=unix:`+dead, 1)

	// A slowloris client: headers started, never finished.
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(20 * time.Second)) // bounds a failure only
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatalf("slow client not dropped: %v (read %d bytes)", err, n)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("slow client dropped after %v; header-timeout is 300ms", took)
	}
	// Meanwhile, and after, everyone else is served.
	if resp, _ := doReq(t, nil, "GET", base+"/pid", nil); resp.StatusCode != 200 {
		t.Fatalf("after the slow client: %d", resp.StatusCode)
	}
}

// testCert writes a self-signed certificate for 127.0.0.1 and returns
// the cert and key paths and a pool that trusts it.
func testCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "supervise test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile, pool
}

func TestFrontEndTLS(t *testing.T) {
	parallel(t)
	dir, sock := startFrontApp(t)
	cert, key, pool := testCert(t, dir)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	front := startMaster(t, dir, "http", "--https", addr+","+cert+","+key, "--to", "unix:"+sock)
	front.waitLog(`listening: address=https://`+addr, 1)
	base := "https://" + addr

	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool},
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	defer h1.CloseIdleConnections()
	defer h2.CloseIdleConnections()
	for name, tc := range map[string]struct {
		client *http.Client
		proto  string
	}{"HTTP/1.1": {h1, "HTTP/1.1"}, "h2": {h2, "HTTP/2.0"}} {
		t.Run(name, func(t *testing.T) {
			resp, body := doReq(t, tc.client, "GET", base+"/vars", nil)
			var v map[string]string
			if resp.Proto != tc.proto || json.Unmarshal([]byte(body), &v) != nil {
				t.Fatalf("%s %d %q", resp.Proto, resp.StatusCode, body)
			}
			if v["HTTPS"] != "on" || v["REQUEST_SCHEME"] != "https" || v["wsgi.url_scheme"] != "https" || v["SERVER_PROTOCOL"] != tc.proto {
				t.Errorf("vars over %s: HTTPS=%q REQUEST_SCHEME=%q url_scheme=%q SERVER_PROTOCOL=%q",
					name, v["HTTPS"], v["REQUEST_SCHEME"], v["wsgi.url_scheme"], v["SERVER_PROTOCOL"])
			}
			data := bytes.Repeat([]byte("tls"), 200_000)
			for _, body := range []io.Reader{bytes.NewReader(data), io.MultiReader(bytes.NewReader(data))} {
				resp, got := doReq(t, tc.client, "POST", base+"/up", body)
				if want := fmt.Sprintf("POST %d %s", len(data), sha(data)); resp.StatusCode != 200 || got != want {
					t.Fatalf("upload over %s: %d %q, want %q", resp.Proto, resp.StatusCode, got, want)
				}
			}
		})
	}
	front.waitLog(`request: method=POST uri=/up proto=HTTP/2.0 status=200`, 1)
}

func TestFrontEndTrustedProxy(t *testing.T) {
	parallel(t)
	dir, sock := startFrontApp(t)
	_, trusting := startFront(t, dir, "--to", sock, "--trusted-proxy", "127.0.0.0/8", "--disable-logging")
	_, other := startFront(t, dir, "--to", sock, "--trusted-proxy", "10.0.0.0/8", "--disable-logging")
	hdr := []string{"X-Forwarded-For", "203.0.113.50, 127.0.0.2", "X-Forwarded-Proto", "https"}
	v := getVars(t, nil, trusting+"/vars", hdr...)
	if v["REMOTE_ADDR"] != "203.0.113.50" || v["HTTPS"] != "on" || v["wsgi.url_scheme"] != "https" {
		t.Errorf("from a trusted proxy: REMOTE_ADDR=%q HTTPS=%q url_scheme=%q", v["REMOTE_ADDR"], v["HTTPS"], v["wsgi.url_scheme"])
	}
	v = getVars(t, nil, other+"/vars", hdr...)
	if v["REMOTE_ADDR"] != "127.0.0.1" || v["HTTPS"] != "" || v["wsgi.url_scheme"] != "http" ||
		v["HTTP_X_FORWARDED_FOR"] != "203.0.113.50, 127.0.0.2" {
		t.Errorf("from an untrusted peer: REMOTE_ADDR=%q HTTPS=%q url_scheme=%q XFF=%q", v["REMOTE_ADDR"], v["HTTPS"],
			v["wsgi.url_scheme"], v["HTTP_X_FORWARDED_FOR"])
	}
}

// The form the master uses: it binds the address and passes the socket
// (--listen-fd 3), so the socket outlives a front end restart. SIGTERM
// lets the in-flight request finish, then exits 0; the socket stays
// open in the parent for the next front end.
func TestFrontEndListenFDAndGracefulStop(t *testing.T) {
	parallel(t)
	dir, sock := startFrontApp(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lf, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close()
	base := "http://" + ln.Addr().String()
	start := func() *masterProc {
		p := startMasterWith(t, dir, func(c *exec.Cmd) { c.ExtraFiles = []*os.File{lf} },
			"http", "--listen-fd", "3", "--to", "unix:"+sock)
		p.waitLog(`listening: address=http://`+ln.Addr().String(), 1)
		return p
	}
	first := start()
	fifo := filepath.Join(dir, "slow.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	done := getAsync(base + "/slow?" + fifo)
	if started, err := os.ReadFile(fifo); err != nil || string(started) != "started\n" {
		t.Fatalf("fifo: %q %v", started, err)
	}
	first.signal(syscall.SIGTERM)
	if r := <-done; r.err != nil || r.code != 200 || r.body != "slow done" {
		t.Fatalf("in-flight request across SIGTERM: %d %q %v", r.code, r.body, r.err)
	}
	if code := first.waitExit(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	first.waitLog(`stopped`, 1)
	// The socket never closed: a new front end takes it over.
	start()
	if resp, body := doReq(t, &http.Client{Transport: &http.Transport{}}, "GET", base+"/pid", nil); resp.StatusCode != 200 {
		t.Fatalf("after the restart: %d %q", resp.StatusCode, body)
	}
}

func TestFrontEndBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"http", "--to", "/x.sock"},                              // nothing to listen on
		{"http", "--listen", "127.0.0.1:0"},                      // no backend
		{"http", "--listen", "127.0.0.1:0", "--to", "localhost"}, // not an address
		{"http", "--https", "127.0.0.1:0,only-cert.pem", "--to", "/x.sock"},
		{"http", "--listen", "127.0.0.1:0", "--to", "/x.sock", "--trusted-proxy", "10.0.0/8"},
		{"http", "--listen", "127.0.0.1:0", "--to", "/x.sock", "--limit-post", "lots"},
	} {
		var stderr bytes.Buffer
		if code := run(args, nil, &stderr); code == 0 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}
