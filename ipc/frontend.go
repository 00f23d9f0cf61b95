package ipc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// EnvFrontEnd carries the HTTP front end's whole configuration, a
// FrontEnd as JSON, from the master to the `supervise http` process it
// runs (--http, --https). Standalone users give the same settings as
// flags; both build a FrontEnd.
const EnvFrontEnd = "SUPERVISE_FRONTEND"

// EnvFrontEndProcess is K, from 1, of the master's http-processes = N
// front ends, so each one's log lines say which it is ("http.K").
// Unset with one front end.
const EnvFrontEndProcess = "SUPERVISE_FRONTEND_PROCESS"

// FrontEnd is the contract between the master and its HTTP front end:
// where to listen, where to forward, and the limits and timeouts. A zero
// number or duration means the front end's default.
type FrontEnd struct {
	Listeners      []FrontListener `json:"listeners"`
	Backends       []string        `json:"backends"` // uwsgi servers, round robin
	StaticMaps     []string        `json:"static_maps,omitempty"`
	StaticSafe     []string        `json:"static_safe,omitempty"`
	TrustedProxies []string        `json:"trusted_proxies,omitempty"` // CIDRs or addresses
	PostBuffering  int64           `json:"post_buffering,omitempty"`
	LimitPost      int64           `json:"limit_post,omitempty"`
	BufferSize     int             `json:"buffer_size,omitempty"`
	DocumentRoot   string          `json:"document_root,omitempty"`
	TempDir        string          `json:"body_temp_dir,omitempty"`
	HeaderTimeout  time.Duration   `json:"header_timeout,omitempty"`
	IdleTimeout    time.Duration   `json:"idle_timeout,omitempty"`
	BodyTimeout    time.Duration   `json:"body_timeout,omitempty"`
	SendTimeout    time.Duration   `json:"send_timeout,omitempty"`
	ConnectTimeout time.Duration   `json:"connect_timeout,omitempty"`
	BackendTimeout time.Duration   `json:"backend_timeout,omitempty"`
	// ShutdownTimeout is what in-flight requests get on SIGTERM (0: 30 s).
	ShutdownTimeout time.Duration `json:"shutdown_timeout,omitempty"`
	DisableLogging  bool          `json:"disable_logging,omitempty"`
	// LogFormat is uWSGI's log-format for the request lines ("": the
	// fixed line); LogStrftime is %(ftime)'s strftime format; LogOnly is
	// disable-logging's exceptions as EnvLogOnly spells them; LogXFF is
	// log-x-forwarded-for.
	LogFormat   string `json:"log_format,omitempty"`
	LogStrftime string `json:"log_strftime,omitempty"`
	LogOnly     string `json:"log_only,omitempty"`
	LogXFF      bool   `json:"log_x_forwarded_for,omitempty"`
	NoEventLoop bool   `json:"no_event_loop,omitempty"`
	Loops       int    `json:"loops,omitempty"` // event loops per plain-HTTP listener
}

// FrontListener is one socket of the front end: an address to bind or an
// inherited listening socket, with a certificate and key for HTTPS.
type FrontListener struct {
	Addr string `json:"addr,omitempty"` // host:port to bind
	FD   int    `json:"fd,omitempty"`   // an inherited listening socket (3 and up)
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// HTTPS reports whether the listener serves TLS.
func (l FrontListener) HTTPS() bool { return l.Cert != "" }

// DefaultShutdownTimeout is FrontEnd.ShutdownTimeout's zero value.
const DefaultShutdownTimeout = 30 * time.Second

// Validate reports what in f the front end cannot run with, in the
// words of the flags a user gives.
func (f *FrontEnd) Validate() error {
	if len(f.Listeners) == 0 {
		return errors.New("nothing to listen on: give --listen, --listen-fd, --https or --https-fd")
	}
	for _, l := range f.Listeners {
		switch {
		case (l.Addr == "") == (l.FD == 0):
			return fmt.Errorf("listener %+v: give an address or an inherited fd, not both or neither", l)
		case l.FD < 0 || (l.FD > 0 && l.FD < FirstListenFD):
			return fmt.Errorf("listener fd %d: an inherited socket is fd %d or above", l.FD, FirstListenFD)
		case (l.Cert == "") != (l.Key == ""):
			return fmt.Errorf("listener %s: HTTPS needs both a certificate and a key", l.name())
		}
	}
	if len(f.Backends) == 0 {
		return errors.New("no backend: give --to ADDR (the uwsgi server)")
	}
	for name, n := range map[string]int64{"post-buffering": f.PostBuffering, "limit-post": f.LimitPost,
		"buffer-size": int64(f.BufferSize), "loops": int64(f.Loops)} {
		if n < 0 {
			return fmt.Errorf("%s %d: must not be negative", name, n)
		}
	}
	for name, d := range map[string]time.Duration{"header-timeout": f.HeaderTimeout, "idle-timeout": f.IdleTimeout,
		"body-timeout": f.BodyTimeout, "send-timeout": f.SendTimeout, "connect-timeout": f.ConnectTimeout,
		"backend-timeout": f.BackendTimeout, "shutdown-timeout": f.ShutdownTimeout} {
		if d < 0 {
			return fmt.Errorf("%s %v: must not be negative", name, d)
		}
	}
	return nil
}

func (l FrontListener) name() string {
	if l.Addr != "" {
		return l.Addr
	}
	return fmt.Sprintf("fd %d", l.FD)
}

// Encode is f as the value of EnvFrontEnd.
func (f *FrontEnd) Encode() string {
	b, err := json.Marshal(f)
	if err != nil { // plain data: cannot happen
		panic(err)
	}
	return string(b)
}

// DecodeFrontEnd reads EnvFrontEnd's value and validates it; a field it
// does not know is an error (a master and a front end of different
// versions must not silently disagree).
func DecodeFrontEnd(s string) (*FrontEnd, error) {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var f FrontEnd
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvFrontEnd, err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", EnvFrontEnd, err)
	}
	return &f, nil
}
