// Package nginxtest runs a private nginx for process-level tests: on a
// free loopback port, with every file in the test's directory, stopped
// when the test ends. The front end's differential tests and the
// supervise binary's tests put the same nginx in front of their workers.
package nginxtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Params is the stock uwsgi_params Debian's nginx ships.
const Params = "/etc/nginx/uwsgi_params"

// Binary is nginx's path, or "" when nginx is not installed (Debian puts
// it in /usr/sbin, which is not on every PATH).
func Binary() string {
	for _, name := range []string{"nginx", "/usr/sbin/nginx"} {
		if bin, err := exec.LookPath(name); err == nil {
			return bin
		}
	}
	return ""
}

// UwsgiPass is a location block that passes every request to upstream
// (e.g. "unix:/tmp/x/app.sock") with the stock uwsgi_params, exactly as
// the seed's site does.
func UwsgiPass(upstream string) string {
	return "location / { uwsgi_pass " + upstream + "; include " + Params + "; }"
}

// Start runs bin with these location blocks, its files under dir, and
// returns its base URL once it accepts connections. It fails the test
// when nginx cannot start.
func Start(t testing.TB, bin, dir, locations string) string {
	t.Helper()
	if _, err := os.Stat(Params); err != nil {
		t.Fatalf("%s missing: install Debian's nginx", Params)
	}
	port := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // nginx's workers must reach the test's temp dirs
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
worker_rlimit_nofile 8192;
pid %[2]s/nginx.pid;
error_log %[2]s/nginx-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    client_max_body_size 64m;
    server {
        listen 127.0.0.1:%[3]d;
        %[4]s
    }
}
`, user, dir, port, locations)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	errorLog := filepath.Join(dir, "nginx-error.log")
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", errorLog)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			if raw, err := os.ReadFile(errorLog); err == nil {
				t.Logf("nginx error log:\n%s", raw)
			}
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	WaitListening(t, addr)
	return "http://" + addr
}

// WaitListening waits until addr accepts TCP connections: nginx gives no
// readiness signal but its port.
func WaitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 20s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond) // polling the port is the readiness check
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
