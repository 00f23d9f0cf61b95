package config

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// The front end's socket protocols (Socket.Proto): the master binds them
// and hands them to `supervise http`, never to the workers.
const (
	ProtoHTTPRouter  = "http-router"
	ProtoHTTPSRouter = "https-router"
)

// Router is the HTTP front end's settings (http, https, static-map...).
type Router struct {
	StaticMap     []string // "/url=/dir"
	StaticSafe    []string
	PostBuffering int
	LimitPost     int
	HTTPTimeout   time.Duration
	HTTPTo        []string // backends instead of the first uwsgi socket
	Processes     int      // front-end processes, one event loop each (uWSGI's router processes); 0: one process, its default loops
}

// Routers are the configured front-end sockets.
func (c *Config) Routers() []Socket {
	var out []Socket
	for _, s := range c.Sockets {
		if IsRouter(s.Proto) {
			out = append(out, s)
		}
	}
	return out
}

// IsRouter reports whether proto is a front end's.
func IsRouter(proto string) bool { return proto == ProtoHTTPRouter || proto == ProtoHTTPSRouter }

// addRouter reads http = ADDR and https = ADDR,CERT,KEY[,...] (uWSGI's
// extra ciphers and CA fields get a notice).
func addRouter(proto string) func(*loader, string) error {
	return func(l *loader, v string) error {
		fields := strings.Split(strings.TrimSpace(v), ",")
		s := Socket{Addr: strings.TrimSpace(fields[0]), Proto: proto}
		if s.Addr == "" {
			return fmt.Errorf("empty address")
		}
		if strings.HasPrefix(s.Addr, "/") || strings.HasPrefix(s.Addr, "@") {
			return fmt.Errorf("%s: the front end listens on host:port (for a unix socket use http-socket)", s.Addr)
		}
		if proto == ProtoHTTPSRouter {
			if len(fields) < 3 || fields[1] == "" || fields[2] == "" {
				return fmt.Errorf("write https = ADDR,CERT.pem,KEY.pem")
			}
			s.Cert, s.Key = strings.TrimSpace(fields[1]), strings.TrimSpace(fields[2])
			if len(fields) > 3 {
				l.notice("https", "https: the ciphers and client-CA fields after the key are ignored; Go's TLS defaults apply")
			}
		}
		l.cfg.Sockets = append(l.cfg.Sockets, s)
		return nil
	}
}

func addStaticMap(l *loader, v string) error {
	url, dir, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok || !strings.HasPrefix(url, "/") || dir == "" {
		return fmt.Errorf("write static-map = /URL=DIR")
	}
	l.cfg.Router.StaticMap = append(l.cfg.Router.StaticMap, url+"="+dir)
	l.cfg.Static = append(l.cfg.Static, "static-map "+url+"="+dir)
	return nil
}

// checkRouter: front-end-only options without a front end get a notice;
// an https certificate that cannot be read is an error now, not a
// respawning front end.
func (l *loader) checkRouter() []error {
	c := l.cfg
	routers := c.Routers()
	if c.Router.Processes < 0 {
		return []error{fmt.Errorf("http-processes = %d: want 1 or more (0: the default)", c.Router.Processes)}
	}
	if len(routers) == 0 {
		if c.Router.PostBuffering > 0 {
			l.notice("post-buffering", "post-buffering: only the http/https front end buffers request bodies; workers read them as they arrive")
		}
		if c.Router.Processes > 0 {
			l.notice("http-processes", "http-processes: there is no http front end (http =) for it to size")
		}
		return nil
	}
	var errs []error
	for _, s := range routers {
		for _, f := range []string{s.Cert, s.Key} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				errs = append(errs, fmt.Errorf("https = %s: %w", s.Addr, err))
			}
		}
	}
	return errs
}
