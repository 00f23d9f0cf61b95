package python_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The app counts the worker's accepts that found no connection: it wraps
// socket.socket._accept at import, before the worker makes its listening
// socket objects, and answers /fails with the count.
const acceptCountApp = `
import socket
_accept = socket.socket._accept
fails = [0]
def counting_accept(self):
    try:
        return _accept(self)
    except BlockingIOError:
        fails[0] += 1
        raise
socket.socket._accept = counting_accept
def application(environ, start_response):
    body = str(fails[0]).encode() if environ["PATH_INFO"] == "/fails" else b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// A worker accepts one connection per epoll wake-up: requests one after
// another (nginx's pattern at a moderate rate: the queue empties after
// each) cost no failing accept. Accepting until the queue was empty cost
// one each, a BlockingIOError raised and caught in Python and a socket
// the kernel allocates and frees (docs/benchmarks.md, session 8). A burst
// of connections queued at once is still served in full.
func TestOneAcceptPerWakeUp(t *testing.T) {
	w := startWorker(t, acceptCountApp, nil, "SUPERVISE_THREADS=1")
	fails := func() int {
		resp, body := w.uwsgiDo(t, "GET", "/fails", nil)
		n, err := strconv.Atoi(strings.TrimSpace(body))
		if resp.StatusCode != 200 || err != nil {
			t.Fatalf("/fails: %s %q", resp.Status, body)
		}
		return n
	}
	before := fails()
	const n = 40
	for i := 0; i < n; i++ {
		if resp, _ := w.uwsgiDo(t, "GET", fmt.Sprintf("/r%d", i), nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
	}
	// A wake-up whose connection another thread took fails once; the
	// one thread here has no rival.
	if got := fails() - before; got > n/10 {
		t.Fatalf("%d requests one after another cost %d failing accepts, want at most %d: the worker accepts until the queue is empty", n, got, n/10)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if resp, _ := w.uwsgiDo(t, "GET", fmt.Sprintf("/burst%d", i), nil); resp.StatusCode != 200 {
				errs <- resp.Status
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("a request of the burst: %s", e)
	}
}
