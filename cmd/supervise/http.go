package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/frontend"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/logformat"
)

const httpUsage = `supervise http: the HTTP front end, in front of any uwsgi server.

  supervise http --listen 127.0.0.1:8080 --to unix:/run/app.sock [options]

Listeners (at least one):
  --listen ADDR                 serve HTTP on host:port (repeatable)
  --listen-fd N                 serve HTTP on inherited listening socket N (repeatable)
  --https ADDR,CERT,KEY         serve HTTPS (and HTTP/2) on host:port (repeatable)
  --https-fd N,CERT,KEY         serve HTTPS on inherited listening socket N (repeatable)
Backends:
  --to ADDR                     uwsgi server: unix:/path, /path, @abstract or host:port;
                                repeat for round robin (one that refuses is skipped)
Options:
`

// httpVerb runs the front end until SIGTERM (graceful) or SIGINT/SIGQUIT.
// Its configuration comes from the flags (standalone) or, when a master
// starts it, from ipc.EnvFrontEnd; both are one ipc.FrontEnd.
func httpVerb(args, environ []string, stderr io.Writer) int {
	env := ipc.ParseEnv(environ)
	fe, code := frontEndConfig(args, env, stderr)
	if fe == nil {
		return code
	}
	return runFrontEnd(fe, env, stderr)
}

// frontEndConfig builds the front end's configuration from the flags, or
// decodes the master's; nil with the exit code when there is none.
func frontEndConfig(args []string, env ipc.Env, stderr io.Writer) (*ipc.FrontEnd, int) {
	var (
		listens, https, fds, httpsFDs multiFlag
		fe                            = ipc.FrontEnd{BufferSize: 4096, ShutdownTimeout: ipc.DefaultShutdownTimeout}
	)
	fs := flag.NewFlagSet("supervise http", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, httpUsage)
		fs.PrintDefaults()
	}
	fs.Var(&listens, "listen", "serve HTTP on host:port `ADDR` (repeatable)")
	fs.Var(&fds, "listen-fd", "serve HTTP on inherited listening socket `N` (repeatable)")
	fs.Var(&https, "https", "serve HTTPS (HTTP/2 offered) on `ADDR,CERT,KEY` (repeatable)")
	fs.Var(&httpsFDs, "https-fd", "serve HTTPS on an inherited socket: `N,CERT,KEY` (repeatable)")
	fs.Var((*multiFlag)(&fe.Backends), "to", "uwsgi backend `ADDR` (repeatable: round robin)")
	fs.Var((*multiFlag)(&fe.StaticMaps), "static-map", "serve the files of DIR at URL: `/URL=/DIR` (repeatable)")
	fs.Var((*multiFlag)(&fe.StaticSafe), "static-safe", "symlinks out of a static-map may lead under `DIR` (repeatable)")
	fs.Var((*multiFlag)(&fe.TrustedProxies), "trusted-proxy", "`CIDR` whose X-Forwarded-For/-Proto are believed (repeatable)")
	fs.Var(byteSize{&fe.PostBuffering}, "post-buffering", "`BYTES` of a chunked request body held in memory; past it, a temp file (default 65536)")
	fs.Var(byteSize{&fe.LimitPost}, "limit-post", "largest request body in `BYTES`, 413 past it (default: no limit)")
	fs.IntVar(&fe.BufferSize, "buffer-size", 4096, "largest uwsgi vars block (about the header block) in `BYTES`, 431 past it; match the workers'")
	fs.StringVar(&fe.DocumentRoot, "document-root", "", "DOCUMENT_ROOT sent to the workers: `DIR`")
	fs.StringVar(&fe.TempDir, "body-temp-dir", "", "`DIR` for request bodies past post-buffering (default $TMPDIR)")
	fs.Var(seconds{&fe.HeaderTimeout}, "header-timeout", "`DURATION` to read a request's headers; slower clients are dropped (default 10s)")
	fs.Var(seconds{&fe.IdleTimeout}, "idle-timeout", "a keep-alive connection with no request is closed after `DURATION` (default 75s)")
	fs.Var(seconds{&fe.BodyTimeout}, "body-timeout", "`DURATION`: longest pause while reading a request body; 408 (default 60s)")
	fs.Var(seconds{&fe.SendTimeout}, "send-timeout", "`DURATION`: longest pause while the client reads the response (default 60s)")
	fs.Var(seconds{&fe.ConnectTimeout}, "connect-timeout", "`DURATION` to connect to a TCP backend; 502 past it (default 5s)")
	fs.Var(seconds{&fe.BackendTimeout}, "backend-timeout", "`DURATION`: longest wait for the backend's answer (and between its reads); 504 (default 60s)")
	fs.Var(seconds{&fe.ShutdownTimeout}, "shutdown-timeout", "on SIGTERM, the `DURATION` in-flight requests get to finish (seconds, or 500ms, 2s)")
	fs.BoolVar(&fe.DisableLogging, "disable-logging", false, "no access log line per request")
	fs.StringVar(&fe.LogFormat, "log-format", "", "request lines in uWSGI's log-format language, e.g. `'%(addr) \"%(method) %(uri)\" %(status)'`")
	fs.StringVar(&fe.LogStrftime, "log-date", "", "strftime `FORMAT` of %(ftime) in log-format (uWSGI's log-date with logformat-strftime)")
	fs.BoolVar(&fe.LogXFF, "log-x-forwarded-for", false, "request lines show X-Forwarded-For as the client, when a request has one")
	var only logOnlyFlags
	fs.BoolVar(&only.s4xx, "log-4xx", false, "with disable-logging: log the 4xx answers still")
	fs.BoolVar(&only.s5xx, "log-5xx", false, "with disable-logging: log the 5xx answers still")
	fs.BoolVar(&only.zero, "log-zero", false, "with disable-logging: log the answers with no body still")
	fs.IntVar(&only.slow, "log-slow", 0, "with disable-logging: log the requests that took `MS` milliseconds or more still")
	fs.IntVar(&only.big, "log-big", 0, "with disable-logging: log the answers of `BYTES` or more still")
	fs.IntVar(&fe.Loops, "loops", 0, "event-loop threads per plain-HTTP listener, `N` (default: half the CPUs, at least 1)")
	fs.BoolVar(&fe.NoEventLoop, "no-event-loop", false, "serve plain HTTP with Go's net/http alone (slower; the path TLS and unusual requests take anyway)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0
		}
		return nil, 2
	}
	fe.LogOnly = only.spec()
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "supervise http: unexpected argument %q\n", fs.Arg(0))
		return nil, 2
	}
	if encoded, ok := env.Lookup(ipc.EnvFrontEnd); ok {
		if fs.NFlag() > 0 {
			fmt.Fprintf(stderr, "supervise http: %s (set by the master) and flags: give one or the other\n", ipc.EnvFrontEnd)
			return nil, 2
		}
		from, err := ipc.DecodeFrontEnd(encoded)
		if err != nil {
			fmt.Fprintln(stderr, "supervise http:", err)
			return nil, 2
		}
		return from, 0
	}
	if err := addListeners(&fe, listens, fds, https, httpsFDs); err != nil {
		fmt.Fprintln(stderr, "supervise http:", err)
		return nil, 2
	}
	if err := fe.Validate(); err != nil {
		fmt.Fprintln(stderr, "supervise http:", err)
		return nil, 2
	}
	return &fe, 0
}

// runFrontEnd serves a validated configuration.
func runFrontEnd(fe *ipc.FrontEnd, env ipc.Env, stderr io.Writer) int {
	cfg := frontend.Config{
		Backends: fe.Backends, StaticMaps: fe.StaticMaps, StaticSafe: fe.StaticSafe,
		PostBuffering: fe.PostBuffering, LimitPost: fe.LimitPost, BufferSize: fe.BufferSize,
		TempDir: fe.TempDir, DocumentRoot: fe.DocumentRoot,
		HeaderTimeout: fe.HeaderTimeout, IdleTimeout: fe.IdleTimeout, BodyTimeout: fe.BodyTimeout,
		SendTimeout: fe.SendTimeout, ConnectTimeout: fe.ConnectTimeout, BackendTimeout: fe.BackendTimeout,
		DisableLogging: fe.DisableLogging, NoEventLoop: fe.NoEventLoop, Loops: fe.Loops,
	}
	for _, p := range fe.TrustedProxies {
		prefix, err := frontend.ParseTrustedProxy(p)
		if err != nil {
			fmt.Fprintln(stderr, "supervise http:", err)
			return 2
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}
	name := "http"
	if k := env.Get(ipc.EnvFrontEndProcess); k != "" { // one of http-processes = N
		name += "." + k
	}
	log := hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Info, Output: stderr,
		TimeFormat: "2006-01-02T15:04:05.000Z0700", JSONFormat: env.Get(ipc.EnvLogJSON) == "1"})
	cfg.Log = log
	cfg.AccessLog = frontend.AccessLog{Only: logformat.ParseOnly(fe.LogOnly), XFF: fe.LogXFF, JSON: env.Get(ipc.EnvLogJSON) == "1"}
	if fe.LogFormat != "" {
		cfg.AccessLog.Format = logformat.Compile(fe.LogFormat, fe.LogStrftime, os.Getpid(), 0)
		var mu sync.Mutex
		cfg.AccessLog.Out = func(b []byte) { mu.Lock(); stderr.Write(b); mu.Unlock() }
	}
	srv, err := frontend.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "supervise http:", err)
		return 2
	}
	ls, err := httpListeners(fe.Listeners)
	if err != nil {
		fmt.Fprintln(stderr, "supervise http:", err)
		return 1
	}
	shutdown := fe.ShutdownTimeout
	if shutdown == 0 {
		shutdown = ipc.DefaultShutdownTimeout
	}
	return serveFront(srv, ls, shutdown, env, log)
}

// frontListener is one socket with its TLS files, if any.
type frontListener struct {
	net.Listener
	cert, key string
}

func serveFront(srv *frontend.Server, ls []frontListener, shutdown time.Duration, env ipc.Env, log hclog.Logger) int {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	errs := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			if l.cert != "" {
				errs <- srv.ServeTLS(l.Listener, l.cert, l.key)
			} else {
				errs <- srv.Serve(l.Listener)
			}
		}()
		scheme := "http"
		if l.cert != "" {
			scheme = "https"
		}
		log.Info("listening", "address", scheme+"://"+l.Addr().String())
	}
	ipc.WatchLifeline(env, func() { // exit with the master that started us, as workers do
		log.Warn("the master is gone (lifeline closed); exiting")
		os.Exit(1)
	})
	if err := ipc.Notify(ipc.NotifyReady); err != nil {
		log.Warn("cannot tell the master we are ready", "error", err)
	}
	select {
	case err := <-errs:
		log.Error("cannot serve", "error", err)
		return 1
	case sig := <-sigs:
		if sig != syscall.SIGTERM {
			log.Info("stopping now", "signal", sig)
			return 0
		}
		log.Info("graceful stop: finishing in-flight requests", "timeout", shutdown)
		ctx, cancel := context.WithTimeout(context.Background(), shutdown)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("requests still running at the shutdown-timeout were cut", "error", err)
		}
		for range ls {
			if err := <-errs; err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Warn("listener", "error", err)
			}
		}
		log.Info("stopped")
		return 0
	}
}

// httpListeners binds the addresses and adopts the inherited sockets.
func httpListeners(specs []ipc.FrontListener) ([]frontListener, error) {
	var out []frontListener
	for _, spec := range specs {
		var l net.Listener
		var err error
		if spec.FD > 0 {
			l, err = inheritedListener(spec.FD)
		} else if l, err = net.Listen("tcp", spec.Addr); err != nil {
			err = fmt.Errorf("--listen %s: %w", spec.Addr, err)
		}
		if err != nil {
			for _, l := range out {
				l.Close()
			}
			return nil, err
		}
		out = append(out, frontListener{Listener: l, cert: spec.Cert, key: spec.Key})
	}
	return out, nil
}

// addListeners reads the listener flags into fe.
func addListeners(fe *ipc.FrontEnd, listens, fds, https, httpsFDs []string) error {
	for _, a := range listens {
		fe.Listeners = append(fe.Listeners, ipc.FrontListener{Addr: a})
	}
	for _, f := range fds {
		fd, err := fdNumber(f)
		if err != nil {
			return fmt.Errorf("--listen-fd %s: %w", f, err)
		}
		fe.Listeners = append(fe.Listeners, ipc.FrontListener{FD: fd})
	}
	for _, spec := range https {
		addr, cert, key, err := tlsSpec(spec)
		if err != nil {
			return fmt.Errorf("--https %s: %w", spec, err)
		}
		fe.Listeners = append(fe.Listeners, ipc.FrontListener{Addr: addr, Cert: cert, Key: key})
	}
	for _, spec := range httpsFDs {
		n, cert, key, err := tlsSpec(spec)
		if err != nil {
			return fmt.Errorf("--https-fd %s: %w", spec, err)
		}
		fd, err := fdNumber(n)
		if err != nil {
			return fmt.Errorf("--https-fd %s: %w", spec, err)
		}
		fe.Listeners = append(fe.Listeners, ipc.FrontListener{FD: fd, Cert: cert, Key: key})
	}
	return nil
}

func fdNumber(s string) (int, error) {
	fd, err := strconv.Atoi(s)
	if err != nil || fd < ipc.FirstListenFD {
		return 0, fmt.Errorf("%q is not a file descriptor number (%d or above)", s, ipc.FirstListenFD)
	}
	return fd, nil
}

func tlsSpec(spec string) (addr, cert, key string, err error) {
	parts := strings.Split(spec, ",")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", errors.New("want ADDR,cert.pem,key.pem")
	}
	return parts[0], parts[1], parts[2], nil
}

func inheritedListener(fd int) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), "listen-fd-"+strconv.Itoa(fd))
	defer f.Close()
	l, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("fd %d is not a listening socket: %w", fd, err)
	}
	return l, nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// byteSize reads a byte count: 65536, 64k, 10m, 1g.
type byteSize struct{ p *int64 }

func (b byteSize) String() string {
	if b.p == nil {
		return "0"
	}
	return strconv.FormatInt(*b.p, 10)
}

func (b byteSize) Set(v string) error {
	mult := int64(1)
	s := strings.ToLower(strings.TrimSpace(v))
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a byte count (65536, 64k, 10m)", v)
	}
	*b.p = n * mult
	return nil
}

// seconds reads a duration: a Go duration ("500ms", "2s") or, as in
// uWSGI's options, a plain number of seconds.
type seconds struct{ p *time.Duration }

func (d seconds) String() string {
	if d.p == nil || *d.p == 0 {
		return ""
	}
	return d.p.String()
}

func (d seconds) Set(v string) error {
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		*d.p = time.Duration(n) * time.Second
		return nil
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		return fmt.Errorf("%q is not a duration (seconds, or 500ms, 2s)", v)
	}
	*d.p = t
	return nil
}

// logOnlyFlags are disable-logging's exceptions, as flags.
type logOnlyFlags struct {
	s4xx, s5xx, zero bool
	slow, big        int
}

// spec is the rule as ipc.EnvLogOnly spells it.
func (o logOnlyFlags) spec() string {
	var parts []string
	for _, p := range []struct {
		on   bool
		text string
	}{{o.s4xx, "4xx"}, {o.s5xx, "5xx"}, {o.zero, "zero"}, {o.slow > 0, "slow=" + strconv.Itoa(o.slow)}, {o.big > 0, "big=" + strconv.Itoa(o.big)}} {
		if p.on {
			parts = append(parts, p.text)
		}
	}
	return strings.Join(parts, ",")
}
