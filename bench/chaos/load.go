package chaos

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Load sends GET requests to URL from Clients keep-alive connections until
// Stop, until Requests have been sent (0: no limit) or Duration has passed
// (0: no limit), and counts what came back. A request fails on a transport
// error or any status but 200.
type Load struct {
	URL      string
	Clients  int
	Requests int64
	Duration time.Duration
	Timeout  time.Duration // per request; 0 means 30 s
	Rate     int           // requests per second in all; 0: as fast as the server answers

	ok, failed, sent atomic.Int64
	mu               sync.Mutex
	firstErr         string
	stop             chan struct{}
	stopOnce         sync.Once
	wg               sync.WaitGroup
	done             chan struct{}
	start            time.Time
}

// LoadResult is what a load loop counted.
type LoadResult struct {
	OK, Failed int64
	FirstError string
	Elapsed    time.Duration
}

func (r LoadResult) String() string {
	return fmt.Sprintf("requests=%d ok=%d failed=%d seconds=%.1f first_error=%q",
		r.OK+r.Failed, r.OK, r.Failed, r.Elapsed.Seconds(), r.FirstError)
}

// Start begins the load in the background.
func (l *Load) Start() {
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	timeout := l.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	clients := max(l.Clients, 1)
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	client := &http.Client{Timeout: timeout, Transport: tr}
	start := time.Now()
	l.start = start
	var deadline time.Time
	if l.Duration > 0 {
		deadline = start.Add(l.Duration)
	}
	var pace <-chan time.Time
	if l.Rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(l.Rate))
		defer func() { go func() { <-l.done; t.Stop() }() }()
		pace = t.C
	}
	for i := 0; i < clients; i++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				if pace != nil {
					select {
					case <-pace:
					case <-l.stop:
						return
					}
				}
				select {
				case <-l.stop:
					return
				default:
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				if l.Requests > 0 && l.sent.Add(1) > l.Requests {
					return
				}
				l.one(client)
			}
		}()
	}
	go func() {
		l.wg.Wait()
		tr.CloseIdleConnections()
		close(l.done)
	}()
}

func (l *Load) one(client *http.Client) {
	resp, err := client.Get(l.URL)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
	}
	if err == nil {
		l.ok.Add(1)
		return
	}
	l.failed.Add(1)
	l.mu.Lock()
	if l.firstErr == "" {
		l.firstErr = err.Error()
	}
	l.mu.Unlock()
}

// OK is the number of successful requests so far.
func (l *Load) OK() int64 { return l.ok.Load() }

// Done is closed when the load ended on its own (Requests or Duration).
func (l *Load) Done() <-chan struct{} { return l.done }

// Stop ends the load (in-flight requests finish) and returns the counts.
func (l *Load) Stop() LoadResult {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return LoadResult{OK: l.ok.Load(), Failed: l.failed.Load(), FirstError: l.firstErr, Elapsed: time.Since(l.start)}
}
