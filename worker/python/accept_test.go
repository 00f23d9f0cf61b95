package python_test

import (
	"fmt"
	"sync"
	"testing"
)

// The app counts the worker's accepts that found no connection: it wraps
// socket.socket._accept at import, before the worker makes its listening
// socket objects, and answers /counts with them: failing, succeeding.
const acceptCountApp = `
import socket
_accept = socket.socket._accept
counts = [0, 0]  # failing, succeeding
def counting_accept(self):
    try:
        got = _accept(self)
    except BlockingIOError:
        counts[0] += 1
        raise
    counts[1] += 1
    return got
socket.socket._accept = counting_accept
def application(environ, start_response):
    body = ("%d %d" % tuple(counts)).encode() if environ["PATH_INFO"] == "/counts" else b"ok"
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
	counts := func() (fails, oks int) {
		resp, body := w.uwsgiDo(t, "GET", "/counts", nil)
		if _, err := fmt.Sscan(body, &fails, &oks); resp.StatusCode != 200 || err != nil {
			t.Fatalf("/counts: %s %q", resp.Status, body)
		}
		return fails, oks
	}
	fails0, oks0 := counts()
	const n = 40
	for i := 0; i < n; i++ {
		if resp, _ := w.uwsgiDo(t, "GET", fmt.Sprintf("/r%d", i), nil); resp.StatusCode != 200 {
			t.Fatalf("request %d: %s", i, resp.Status)
		}
	}
	fails1, oks1 := counts()
	if oks1-oks0 < n {
		t.Fatalf("the app counted %d accepts for %d requests: the worker no longer accepts through socket.socket._accept, so this test counts nothing", oks1-oks0, n)
	}
	// A wake-up whose connection another thread took fails once; the
	// one thread here has no rival.
	if got := fails1 - fails0; got > n/10 {
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
