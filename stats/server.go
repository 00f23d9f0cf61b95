package stats

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Server answers every connection with one stats document and closes it,
// like uWSGI's stats server. Each client gets its own goroutine (up to
// MaxClients at once) and a deadline, so a client that never reads stalls
// no one but, past MaxClients, other stats clients for that deadline.
type Server struct {
	Log       hclog.Logger
	Snapshot  func() ([]WorkerInfo, error) // asks the master's loop
	Collector *Collector
	HTTP      bool // stats-http: behind "HTTP/1.0 200 OK"; GET /metrics is Prometheus text
	Minified  bool // stats-minified: one line
	// Health, when set, answers /healthz and /readyz (on stats-http, or
	// alone with HealthOnly).
	Health *Health
	// HealthOnly serves the health paths only (the health option): every
	// other path is 404 and no stats are shown.
	HealthOnly bool
	// ClientDeadline bounds each client's connection, reading its request
	// and writing the answer (0: DefaultClientDeadline).
	ClientDeadline time.Duration

	mu     sync.Mutex // the collector keeps delta state; Close waits on it
	closed bool
	regState
}

var errClosed = errors.New("the stats server is shutting down")

// Guard runs f, which reads the same scoreboard (SIGUSR1's summary), unless
// the server is closed; Close waits for it. It reports whether f ran.
func (s *Server) Guard(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	f()
	return true
}

// Close makes every later collection fail and waits for the one in
// progress: the master unmaps the scoreboard the collector reads after
// this returns.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// DefaultClientDeadline is a stats client's time to send its request and
// read the answer.
const DefaultClientDeadline = 5 * time.Second

func (s *Server) clientDeadline() time.Time {
	if s.ClientDeadline > 0 {
		return time.Now().Add(s.ClientDeadline)
	}
	return time.Now().Add(DefaultClientDeadline)
}

// Listen binds a stats address: host:port, a unix path (mode 0600) or
// @abstract. A non-loopback TCP address gets a warning: the stats expose
// request URLs.
func Listen(addr string, log hclog.Logger) (net.Listener, error) {
	if strings.HasPrefix(addr, "@") || strings.Contains(addr, "/") {
		return listenUnix("stats", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stats %s: %w", addr, err)
	}
	if !isLoopback(l) {
		log.Warn("the stats server listens beyond loopback; it shows request URLs to anyone who connects", "address", addr)
	}
	return l, nil
}

// listenUnix binds a unix path (mode 0600, a stale socket replaced) or
// @abstract name for the option named option.
func listenUnix(option, addr string) (net.Listener, error) {
	name := addr
	if strings.HasPrefix(addr, "@") {
		name = "\x00" + addr[1:]
	} else if err := removeStale(option, addr); err != nil {
		return nil, err
	}
	l, err := net.Listen("unix", name)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", option, addr, err)
	}
	if !strings.HasPrefix(addr, "@") {
		if err := os.Chmod(addr, 0o600); err != nil {
			l.Close()
			return nil, fmt.Errorf("%s %s: %w", option, addr, err)
		}
	}
	return l, nil
}

func removeStale(option, path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("%s %s: the path exists and is not a socket", option, path)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s %s: another server answers there", option, path)
	}
	return os.Remove(path)
}

// MaxClients bounds the clients served at once. Past it, new connections
// wait in the listen queue, so a flood of connections costs the master
// neither descriptors nor goroutines (each client has at most
// ClientDeadline).
const MaxClients = 64

// Serve accepts until l is closed.
func (s *Server) Serve(l net.Listener) error {
	slots := make(chan struct{}, MaxClients)
	for {
		slots <- struct{}{}
		conn, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				<-slots
				continue
			}
			<-slots
			s.Log.Warn("stats accept", "error", err)
			time.Sleep(50 * time.Millisecond) // EMFILE and friends: do not spin
			continue
		}
		go func() {
			defer func() { <-slots }()
			s.handle(conn)
		}()
	}
}

func (s *Server) handle(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(s.clientDeadline())
	if !s.HTTP && !s.HealthOnly {
		body, err := s.document()
		if err != nil {
			return
		}
		// The deadline bounds the client, not the time the document took
		// to build (a thousand workers' document on a loaded machine).
		conn.SetDeadline(s.clientDeadline())
		conn.Write(body)
		closeGracefully(conn)
		return
	}
	path := readRequestPath(conn)
	if s.Health != nil && s.Health.serve(conn, path) {
		return
	}
	if s.HealthOnly {
		writeText(conn, "404 Not Found", "not found: this listener answers "+PathLive+" and "+PathReady+" only")
		return
	}
	var body []byte
	var err error
	ctype := "application/json"
	if path == "/metrics" {
		body, err = s.metrics()
		ctype = MetricsContentType
	} else {
		body, err = s.document()
	}
	if err != nil {
		fmt.Fprintf(conn, "HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\n%v\n", err)
		return
	}
	conn.SetDeadline(s.clientDeadline())
	fmt.Fprintf(conn, "HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", ctype, len(body))
	conn.Write(body)
}

// closeGracefully ends a plain answer with a FIN, then reads what the
// client sent until it closes (within the client's deadline). A client
// may send a request line the plain server never reads (stats.Fetch
// does); closing a socket with unread input resets the connection, and
// the reset can cut a large document short at the client.
func closeGracefully(conn net.Conn) {
	cw, ok := conn.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	io.Copy(io.Discard, io.LimitReader(conn, 64<<10))
}

// readRequestPath reads an HTTP request head and returns its path.
func readRequestPath(conn net.Conn) string {
	r := bufio.NewReaderSize(conn, 4096)
	line, err := r.ReadString('\n')
	if err != nil {
		return ""
	}
	for { // drain the headers so the client sees a clean close
		h, err := r.ReadString('\n')
		if err != nil || h == "\r\n" || h == "\n" {
			break
		}
	}
	parts := strings.Fields(line)
	if len(parts) < 2 {
		return ""
	}
	path, _, _ := strings.Cut(parts[1], "?")
	return path
}

// SetSockets replaces the sockets reported (after a reload changed them).
func (s *Server) SetSockets(socks []SocketInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Collector.Sockets = socks
}

// Current collects one Stats document.
func (s *Server) Current() (Stats, error) {
	workers, err := s.Snapshot()
	if err != nil {
		return Stats{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Stats{}, errClosed
	}
	return s.Collector.Collect(workers), nil
}

func (s *Server) document() ([]byte, error) {
	st, err := s.Current()
	if err != nil {
		return nil, err
	}
	if s.Minified {
		b, err := json.Marshal(st)
		return append(b, '\n'), err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "\t")
	err = enc.Encode(st)
	return buf.Bytes(), err
}
