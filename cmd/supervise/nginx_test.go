package main

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

// startNginx runs a private nginx on a free loopback port that passes every
// request to upstream (e.g. "unix:/tmp/x/app.sock") with the stock
// uwsgi_params, exactly as the seed's site does. It returns the base URL.
func startNginx(t *testing.T, dir, upstream string) string {
	processTest(t)
	t.Helper()
	return startNginxLocations(t, dir, "location / { uwsgi_pass "+upstream+"; include /etc/nginx/uwsgi_params; }")
}

// startNginxLocations runs the same nginx with these location blocks.
func startNginxLocations(t *testing.T, dir, locations string) string {
	t.Helper()
	bin := requireTool(t, "nginx", "-v")
	params := "/etc/nginx/uwsgi_params"
	if _, err := os.Stat(params); err != nil {
		t.Fatalf("%s missing: install Debian's nginx", params)
	}
	port := freePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // nginx's workers must reach the test's temp dirs
	}
	conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/nginx-error.log warn;
daemon off;
events { worker_connections 1024; }
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
	writeFile(t, confPath, conf)
	cmd := exec.Command(bin, "-p", dir, "-c", confPath)
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
			if raw, err := os.ReadFile(filepath.Join(dir, "nginx-error.log")); err == nil {
				t.Logf("nginx error log:\n%s", raw)
			}
		}
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never accepted a connection: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond) // nginx gives no readiness signal but its port
	}
}
