// Package frontend is supervise's HTTP front end: it accepts HTTP/1.1 (and
// HTTP/2 over TLS) from clients and forwards each request to a uwsgi
// server (supervise's workers, or uWSGI) as nginx's uwsgi_pass with the
// stock uwsgi_params would, streaming the response back. It serves
// static-map directories itself and enforces the limits and timeouts that
// keep slow or hostile clients away from the workers.
//
// Requests take one of two paths, and the file names say which:
//
//   - loop*.go, the event loop: plain HTTP/1.1 on TCP, the hot path. One
//     goroutine per loop waits in epoll_wait, as an nginx worker does.
//     loop.go accepts and notes readiness on sockets (loop_socket.go);
//     clientConn speaks to the client (loop_client.go: a request parsed
//     by loop_request.go in, the answer out), workerConn to the worker
//     (loop_worker.go: the uwsgi packet out, the answer in), and
//     loop_exchange.go takes one request from the first to the second and
//     back. Idle connections give their buffers back (loop_idlemem.go).
//     What the loop does not serve (TLS, HTTP/2, HEAD, chunked bodies,
//     static files, big requests, answers of unknown length) it hands off.
//   - nethttp_*.go, Go's net/http: everything else, and everything when
//     the loop is off (--no-event-loop). nethttp_proxy.go forwards a
//     request, nethttp_body.go spools its body, nethttp_static.go serves
//     static-map, nethttp_framing.go guards net/http's lenient framing.
//   - the rest is shared: server.go (Server, which starts both), handoff.go
//     (the loop's connections passed to net/http), backend.go (backends and
//     their pool), websocket.go (Upgrade: websocket, tunnelled to a
//     worker once it answers 101), vars.go (the uwsgi vars), response.go (a worker's
//     answer head), headers.go (ASCII and header tables every parser
//     uses), forwarded.go (trusted proxies), fdbudget.go (descriptor
//     budget), log.go (access and error log).
package frontend
