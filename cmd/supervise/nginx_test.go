package main

import (
	"testing"

	"github.com/supervise-go/supervise/internal/nginxtest"
)

// startNginx runs a private nginx on a free loopback port that passes every
// request to upstream (e.g. "unix:/tmp/x/app.sock") with the stock
// uwsgi_params, exactly as the seed's site does. It returns the base URL.
func startNginx(t *testing.T, dir, upstream string) string {
	processTest(t)
	t.Helper()
	return startNginxLocations(t, dir, nginxtest.UwsgiPass(upstream))
}

// startNginxLocations runs the same nginx with these location blocks.
func startNginxLocations(t *testing.T, dir, locations string) string {
	t.Helper()
	return nginxtest.Start(t, requireTool(t, "nginx", "-v"), dir, locations)
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	nginxtest.WaitListening(t, addr)
}
