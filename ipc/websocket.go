package ipc

// uWSGI's WebSocket API for WSGI apps (worker/python/uwsgi_websocket.py:
// uwsgi.websocket_handshake, websocket_recv...) and asgi.py's WebSockets
// read these; unset means uWSGI's defaults (30 s, 3 s, 1024 KB).
const (
	// EnvWSPingFreq is websocket-ping-freq: seconds of silence after which
	// a blocked websocket_recv sends a ping.
	EnvWSPingFreq = "SUPERVISE_WS_PING_FREQ"
	// EnvWSPongTolerance is websocket-pong-tolerance: seconds a ping may go
	// unanswered before websocket_recv gives up on the connection.
	EnvWSPongTolerance = "SUPERVISE_WS_PONG_TOLERANCE"
	// EnvWSMaxSize is websocket-max-size in bytes (the option is in KB):
	// the largest message a worker takes.
	EnvWSMaxSize = "SUPERVISE_WS_MAX_SIZE"
)
