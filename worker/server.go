package worker

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
)

type server struct {
	h          http.Handler
	listeners  []Listener
	cores      chan int // free request slots: --threads of them
	heads      [][]byte // per slot: the request line and host for the scoreboard, reused
	board      *board
	log        *logger
	reqlog     *reqLog
	bufferSize int
	maxVars    int // 2 x max-vars, uWSGI's count
	inflight   sync.WaitGroup
	https      []*http.Server
	timeout    time.Duration // socket-timeout
	exit       func(code int)
}

func newServer(h http.Handler, ls []Listener) *server {
	threads, _ := strconv.Atoi(os.Getenv(ipc.EnvThreads))
	threads = max(threads, 1)
	bufSize, err := strconv.Atoi(os.Getenv(ipc.EnvBufferSize))
	if err != nil || bufSize <= 0 {
		bufSize = uwsgi.DefaultBufferSize
	}
	maxVars, _ := strconv.Atoi(os.Getenv(ipc.EnvMaxVars)) // 0 when unset: uwsgi.MaxVars
	s := &server{h: h, listeners: ls, cores: make(chan int, threads), board: openBoard(),
		log: newLogger(), bufferSize: bufSize, maxVars: 2 * maxVars, timeout: socketTimeout(), exit: os.Exit}
	s.reqlog = newReqLog(s.log, threads)
	s.heads = make([][]byte, threads)
	for i := 0; i < threads; i++ {
		s.cores <- i
	}
	return s
}

func newLogger() *logger {
	return &logger{name: fmt.Sprintf("worker.%d", ID()), w: os.Stderr, json: os.Getenv(ipc.EnvLogJSON) == "1"}
}

func (s *server) run() error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP)
	ipc.WatchLifeline(ipc.ParseEnv(os.Environ()), func() {
		s.log.Warn("the master is gone (lifeline closed); exiting")
		os.Exit(1)
	})
	errs := make(chan error, len(s.listeners))
	for _, l := range s.listeners {
		switch l.Proto {
		case ipc.ProtoHTTP:
			// socket-timeout bounds the head; net/http's own reader owns
			// the connection, so per-read deadlines are not set on bodies.
			head := s.timeout
			if head <= 0 {
				head = 30 * time.Second
			}
			srv := &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: head,
				MaxHeaderBytes: max(s.bufferSize, 8192)}
			s.https = append(s.https, srv)
			go func(l net.Listener) { errs <- srv.Serve(l) }(l.Listener)
		default:
			go func(l net.Listener) { errs <- s.serveUwsgi(l) }(l.Listener)
		}
	}
	s.log.Info("ready", "pid", os.Getpid(), "threads", cap(s.cores), "sockets", len(s.listeners))
	if err := ipc.Notify(ipc.NotifyReady); err != nil {
		s.log.Warn("cannot tell the master we are ready", "error", err)
	}
	for {
		select {
		case err := <-errs:
			if errors.Is(err, http.ErrServerClosed) {
				continue
			}
			if listenerGone(err) {
				// Not a stop (drain exits before this is read): the app
				// closed a listening socket. Finish what runs, then exit
				// non-zero so the master starts a replacement.
				s.log.Error("the listening socket is gone (closed by the app?); exiting so the master starts a replacement", "error", err)
				s.drain()
				s.exit(ipc.ExitListenerGone)
				return err
			}
			return err
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM:
				s.drain()
				os.Exit(0)
			case syscall.SIGINT, syscall.SIGQUIT:
				os.Exit(0)
			}
		}
	}
}

// drain stops accepting and waits for in-flight requests. Closing our
// copies of the listening sockets leaves them open for the other workers.
func (s *server) drain() {
	stopNow()
	for _, l := range s.listeners {
		l.Close()
	}
	for _, srv := range s.https {
		srv.Shutdown(context.Background())
	}
	s.inflight.Wait()
}

// serveUwsgi accepts only while a request slot is free, so a busy worker
// leaves new connections in the shared queue for the others.
func (s *server) serveUwsgi(l net.Listener) error {
	for {
		core := <-s.cores
		conn, err := l.Accept()
		if err != nil {
			s.cores <- core
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		s.inflight.Add(1)
		go func() {
			defer func() { s.cores <- core; s.inflight.Done() }()
			s.serveConn(withTimeout(conn, s.timeout), core)
		}()
	}
}

func (s *server) serveConn(conn net.Conn, core int) {
	defer conn.Close()
	start := time.Now()
	br := bufio.NewReaderSize(conn, 4096)
	p, err := uwsgi.ReadPacketVars(br, s.bufferSize, s.maxVars)
	if err != nil {
		if isTimeout(err) {
			s.log.Warn("socket-timeout: no data from the client; connection closed", "timeout", s.timeout)
			s.board.readError(core)
		} else if !errors.Is(err, io.EOF) {
			s.log.Warn("bad uwsgi packet; connection closed", "error", err)
			s.board.readError(core)
		}
		return
	}
	req, err := newRequest(p, br)
	if err != nil {
		s.log.Warn("bad uwsgi request; connection closed", "error", err)
		s.board.readError(core)
		return
	}
	rw := &response{w: bufio.NewWriterSize(conn, 32<<10), proto: req.Proto, head: req.Method == http.MethodHead, header: http.Header{}}
	s.board.begin(core, ipc.VarsUwsgi, p.Block)
	failed := s.call(rw, req)
	if rw.refused != nil {
		s.log.Error("refused the handler's response; answered 500 instead", "method", req.Method, "path", req.URL.Path, "error", rw.refused)
		failed = true
	}
	if err := rw.finish(); err == nil && req.ContentLength > 0 {
		io.CopyN(io.Discard, req.Body, 1<<20) // unread body: avoid a reset under the response
	}
	s.finish(&reqDone{core: core, r: req, p: p, status: rw.status, written: rw.written, hsize: rw.hsize,
		headers: rw.headers, start: start, readFailed: bodyFailed(req), writeFailed: rw.err != nil && rw.refused == nil}, failed)
}

// serveHTTP wraps h for http-socket: a request slot and the accounting.
func (s *server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	core := <-s.cores
	s.inflight.Add(1)
	defer func() { s.cores <- core; s.inflight.Done() }()
	start := time.Now()
	if s.board != nil {
		h := append(s.heads[core][:0], r.Method...)
		h = append(append(append(append(h, ' '), r.RequestURI...), ' '), r.Proto...)
		h = append(append(append(h, "\r\nHost: "...), r.Host...), "\r\n"...)
		s.heads[core] = h
		s.board.begin(core, ipc.VarsHTTP, h)
	}
	cw := &countingWriter{ResponseWriter: w}
	failed := s.call(cw, r)
	status := cw.status
	if status == 0 && !failed {
		status = http.StatusOK // net/http sends it for a handler that wrote nothing
	}
	d := &reqDone{core: core, r: r, status: status, written: cw.written, start: start}
	if s.reqlog.format != nil {
		d.hsize, d.headers = headSize(r.Proto, status, cw.Header())
	}
	s.finish(d, failed)
}

// call runs the handler; a panic becomes a 500 (if nothing was sent yet)
// and one log line with the stack, and the worker keeps serving.
func (s *server) call(w http.ResponseWriter, r *http.Request) (failed bool) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				failed = true
				return
			}
			s.log.Error("the handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			failed = true
			if rw, ok := w.(*response); ok && rw.status == 0 {
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			} else if cw, ok := w.(*countingWriter); ok && cw.status == 0 {
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			}
		}
	}()
	s.h.ServeHTTP(w, r)
	return false
}

func (s *server) finish(d *reqDone, failed bool) {
	d.took = time.Since(d.start)
	s.board.end(d.core, d.status, d.written, d.took, failed)
	s.reqlog.request(d)
}

// countingWriter records the status and body bytes of an http-socket reply.
type countingWriter struct {
	http.ResponseWriter
	status  int
	written int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.written += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// serveAlone is the same binary without supervise: plain HTTP on $PORT.
func serveAlone(h http.Handler) error {
	addr := "127.0.0.1:8080"
	if port := os.Getenv("PORT"); port != "" {
		addr = ":" + port
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 30 * time.Second}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		stopNow()
		srv.Shutdown(context.Background())
		os.Exit(0)
	}()
	newLogger().Info("serving without supervise", "address", "http://"+addr+"/")
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	select {} // the signal goroutine exits 0 once in-flight requests are done
}
