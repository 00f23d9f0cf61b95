package frontend

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/uwsgi"
)

// Config is the front end's settings; zero values take the defaults noted.
type Config struct {
	Backends   []string // uwsgi servers, round robin (see parseBackend)
	StaticMaps []string // "/url=/dir"
	StaticSafe []string // directories symlinks out of a static-map may lead to

	PostBuffering int64  // a chunked body is held in memory up to this, then in a temp file (0: 64 KiB)
	LimitPost     int64  // largest request body; 413 past it (0: no limit)
	BufferSize    int    // largest uwsgi vars block, and about the largest header block; 431 past it (0: 4096)
	TempDir       string // where bodies past PostBuffering go ("": $TMPDIR)
	DocumentRoot  string // DOCUMENT_ROOT sent to the workers

	HeaderTimeout  time.Duration // to read a request's headers; a slow client is dropped (0: 10 s)
	IdleTimeout    time.Duration // a keep-alive connection with no request (0: 75 s)
	BodyTimeout    time.Duration // between two reads of a request body (0: 60 s)
	SendTimeout    time.Duration // between two writes to the client (0: 60 s)
	ConnectTimeout time.Duration // to connect to a TCP backend; 502 past it (0: 5 s)
	BackendTimeout time.Duration // between two reads from the backend; 504 if no headers by then (0: 60 s)
	TrustedProxies TrustedProxies
	DisableLogging bool
	AccessLog      AccessLog // log-format and the others: how request lines look
	NoEventLoop    bool      // serve plain HTTP with net/http alone (see loop.go)
	Loops          int       // event loops (threads) per listener (0: half the CPUs, at least 1)
	Log            hclog.Logger
	BackendDeadFor time.Duration // how long a backend that refused a connection is skipped (0: 1 s)
}

// Server is the front end. One Server serves any number of listeners.
type Server struct {
	cfg        Config
	pool       *pool
	statics    []*staticMap
	staticSafe []string
	log        hclog.Logger
	srv        *http.Server
	warnings

	handoff  *handoffListener // net/http's share of the loops' connections
	loopsMu  sync.Mutex
	loops    []*loop
	stopping bool
	// Requests the loops answered, connections they handed to net/http.
	loopAnswered, handedOff atomic.Int64
	backlogWaits            atomic.Int64 // requests the loops held for room in a full listen queue
	fds                     *fdBudget    // client connections the open-files limit leaves room for (fdbudget.go)
}

type connKey struct{}

// New checks cfg and builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	if f := cfg.AccessLog.Format; f != nil {
		cfg.AccessLog.needVars = f.NeedsEnv()
		if cfg.AccessLog.Out == nil {
			var mu sync.Mutex
			cfg.AccessLog.Out = func(b []byte) { mu.Lock(); os.Stderr.Write(b); mu.Unlock() }
		}
	}
	if len(cfg.Backends) == 0 && len(cfg.StaticMaps) == 0 {
		return nil, errors.New("no backend: give at least one --to (unix:/path, /path, @name or host:port)")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.HeaderTimeout, 10*time.Second)
	def(&cfg.IdleTimeout, 75*time.Second)
	def(&cfg.BodyTimeout, 60*time.Second)
	def(&cfg.SendTimeout, 60*time.Second)
	def(&cfg.ConnectTimeout, 5*time.Second)
	def(&cfg.BackendTimeout, 60*time.Second)
	def(&cfg.BackendDeadFor, time.Second)
	if cfg.PostBuffering <= 0 {
		cfg.PostBuffering = 64 << 10
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = uwsgi.DefaultBufferSize
	}
	if cfg.BufferSize > uwsgi.MaxBufferSize {
		return nil, fmt.Errorf("buffer-size %d: the uwsgi protocol allows at most %d", cfg.BufferSize, uwsgi.MaxBufferSize)
	}
	s := &Server{cfg: cfg, log: cfg.Log, staticSafe: cfg.StaticSafe}
	s.fds = newFDBudget(func(max int64) {
		s.log.Warn("open-files limit reached: not accepting more clients until some close, keeping the rest for worker connections (raise ulimit -n / LimitNOFILE, or under a master run more http-processes: each has its own limit)",
			"clients", max)
	})
	s.byKind = map[string]*warnState{}
	var backends []*backend
	for _, to := range cfg.Backends {
		b, err := parseBackend(to)
		if err != nil {
			return nil, err
		}
		backends = append(backends, b)
	}
	if len(backends) > 0 {
		s.pool = newPool(backends, cfg.ConnectTimeout)
		s.pool.deadFor = cfg.BackendDeadFor
		s.pool.onDead = func(b *backend, err error) {
			s.log.Warn("backend refused a connection; skipping it for a while", "backend", b.Name,
				"for", cfg.BackendDeadFor, "error", err)
		}
	}
	for _, sm := range cfg.StaticMaps {
		m, err := parseStaticMap(sm)
		if err != nil {
			return nil, err
		}
		s.statics = append(s.statics, m)
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.HeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.BufferSize,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if hc, ok := c.(*handoffConn); ok {
				ctx = context.WithValue(ctx, handoffKey{}, hc)
				return context.WithValue(ctx, connKey{}, hc.info)
			}
			_, isTLS := c.(*tls.Conn)
			if gc, ok := c.(*guardedConn); ok {
				isTLS = gc.tls
			}
			return context.WithValue(ctx, connKey{}, newConnInfo(c, isTLS))
		},
		ErrorLog: log.New(&errorLogWriter{s: s}, "", 0),
	}
	return s, nil
}

// Serve serves plain HTTP/1.1 on ln until Shutdown: with an event loop
// (loop.go) for a TCP listener, with net/http alone when a backend is
// named by a host name.
func (s *Server) Serve(ln net.Listener) error {
	if s.cfg.NoEventLoop || s.pool == nil {
		return s.srv.Serve(s.plainListener(ln))
	}
	if !s.pool.loopable() {
		s.log.Info("serving plain HTTP with net/http: a backend is a host name (give an IP address for the faster event loop)",
			"address", ln.Addr())
		return s.srv.Serve(s.plainListener(ln))
	}
	n := s.cfg.Loops
	if n <= 0 {
		n = max(1, runtime.GOMAXPROCS(0)/2) // the workers need the other cores
	}
	var loops []*loop
	for i := 0; i < n; i++ {
		l, err := newLoop(s, ln, n > 1)
		if err != nil {
			for _, l := range loops {
				l.closeFDs()
			}
			s.log.Warn("serving plain HTTP with net/http alone (slower)", "address", ln.Addr(), "reason", err)
			return s.srv.Serve(s.plainListener(ln))
		}
		loops = append(loops, l)
	}
	s.loopsMu.Lock()
	if s.stopping {
		s.loopsMu.Unlock()
		for _, l := range loops {
			l.closeFDs()
		}
		ln.Close()
		return http.ErrServerClosed
	}
	s.loops = append(s.loops, loops...)
	if s.handoff == nil {
		s.handoff = newHandoffListener(ln.Addr())
		go s.srv.Serve(s.handoff)
	}
	s.loopsMu.Unlock()
	s.log.Info("event loops serving plain HTTP", "address", ln.Addr(), "loops", n)
	var wg sync.WaitGroup
	for _, l := range loops[1:] {
		wg.Add(1) // not wg.Go: go.mod promises Go 1.24
		go func() { defer wg.Done(); l.run() }()
	}
	loops[0].run()
	wg.Wait()
	ln.Close()
	return http.ErrServerClosed
}

// plainListener is ln for net/http's plain HTTP: within the descriptor
// budget, read through the framing guard.
func (s *Server) plainListener(ln net.Listener) net.Listener {
	return &guardedListener{Listener: newBudgetListener(ln, s.fds), s: s}
}

// ServeTLS serves HTTPS on ln with the certificate and key files;
// clients that offer h2 (ALPN) get HTTP/2, HTTP/1.1 reads through the
// framing guard.
func (s *Server) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("https certificate %s / key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"},
		MinVersion: tls.VersionTLS12}
	return s.srv.Serve(newTLSGuardListener(s, newBudgetListener(ln, s.fds), cfg))
}

// Shutdown stops accepting, lets in-flight requests finish until ctx
// ends, then closes what is left.
func (s *Server) Shutdown(ctx context.Context) error {
	s.loopsMu.Lock()
	s.stopping = true
	loops, handoff := s.loops, s.handoff
	s.loopsMu.Unlock()
	for _, l := range loops {
		l.stopping.Store(true)
		// The loop closes its duplicate of the socket when it drains;
		// with this one closed too the kernel stops completing
		// connections no one will accept (net/http closes its
		// listeners the same way).
		l.ln.Close()
		l.wake()
	}
	err := s.srv.Shutdown(ctx)
	if handoff != nil {
		handoff.Close() // net/http may not have started serving it yet
	}
	for _, l := range loops {
		select {
		case <-l.done:
		case <-ctx.Done():
			l.killing.Store(true)
			l.wake()
			<-l.done
			err = ctx.Err()
		}
	}
	if err != nil {
		s.srv.Close()
	}
	return err
}

// ServeHTTP is one request: a static file, or the application's answer.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c, _ := r.Context().Value(connKey{}).(*connInfo)
	if c == nil {
		c = &connInfo{}
	}
	if len(s.cfg.TrustedProxies) > 0 {
		if fwd, changed := s.cfg.TrustedProxies.apply(c, r.Header); changed {
			c = &fwd
		}
	}
	if strings.IndexByte(r.URL.Path, 0) >= 0 {
		// A %00 in the path: nginx refuses it too (a NUL in PATH_INFO
		// ends the path early for C code and file names).
		w.Header().Set("Connection", "close")
		status := plainError(w, http.StatusBadRequest)
		s.logRequest(r, c, status, 0, start, w.Header())
		return
	}
	if len(s.statics) > 0 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if status, n, ok := s.serveStatic(w, r, documentURI(r.URL.Path)); ok {
			s.logRequest(r, c, status, n, start, w.Header())
			return
		}
	}
	if s.pool == nil {
		status := plainError(w, http.StatusNotFound)
		s.logRequest(r, c, status, 0, start, w.Header())
		return
	}
	if isWebSocket(r) { // websocket.go: a tunnel once the worker says 101
		if status, n := s.tunnel(w, r, c); status >= 0 {
			s.logRequest(r, c, status, n, start, w.Header())
		}
		return
	}
	status, n := s.forward(w, r, c)
	s.logRequest(r, c, status, n, start, w.Header())
}

// errorLogWriter puts net/http's own complaints (TLS handshake errors,
// accept errors) into the hclog stream, at most one a second: a port
// scanner's failed handshakes are not worth a line each.
type errorLogWriter struct{ s *Server }

func (e *errorLogWriter) Write(p []byte) (int, error) {
	msg := string(p)
	for len(msg) > 0 && msg[len(msg)-1] == '\n' {
		msg = msg[:len(msg)-1]
	}
	e.s.warn("net/http", "net/http: "+msg)
	return len(p), nil
}
