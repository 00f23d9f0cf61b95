package config

import "fmt"

// WebSockets are uWSGI's websocket-* settings: the ping/pong keepalive of
// uwsgi.websocket_recv (WSGI apps) and the largest message a worker takes
// (WSGI and ASGI apps). Zero means uWSGI's default.
type WebSockets struct {
	WebSocketPingFreq      int // websocket-ping-freq, seconds
	WebSocketPongTolerance int // websocket-pong-tolerance, seconds
	WebSocketMaxSize       int // websocket-max-size, KB
}

var _ = addOptions(
	works("websocket-ping-freq", []string{"websockets-ping-freq"}, Int, "30", "seconds of silence after which uwsgi.websocket_recv() pings the client (uWSGI's automatic ping)", integer(func(c *Config) *int { return &c.WebSocketPingFreq })),
	works("websocket-pong-tolerance", []string{"websockets-pong-tolerance"}, Int, "3", "seconds a ping may go unanswered before uwsgi.websocket_recv() raises IOError and the WebSocket is dropped", integer(func(c *Config) *int { return &c.WebSocketPongTolerance })),
	works("websocket-max-size", []string{"websockets-max-size"}, Int, "1024", "the largest WebSocket message (KB) a worker takes, for uwsgi.websocket_recv() (IOError past it) and ASGI apps (close 1009)", integer(func(c *Config) *int { return &c.WebSocketMaxSize })),
)

func (l *loader) checkWebSockets() []error {
	w := l.cfg.WebSockets
	if w.WebSocketPingFreq < 0 || w.WebSocketPongTolerance < 0 || w.WebSocketMaxSize < 0 {
		return []error{fmt.Errorf("websocket-ping-freq = %d, websocket-pong-tolerance = %d, websocket-max-size = %d: must be 0 (the default) or more",
			w.WebSocketPingFreq, w.WebSocketPongTolerance, w.WebSocketMaxSize)}
	}
	return nil
}
