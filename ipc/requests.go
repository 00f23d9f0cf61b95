package ipc

// Per-request counters by status class and by duration. A worker adds one
// to exactly one word of each set per request (one aligned 64-bit store
// each, the core's only writer); the master sums them over cores at
// scrape time.

// StatusClasses is the number of status class words: 0 for a request
// whose status is not a valid one (none was sent, or it is outside
// 100-599), then 1xx..5xx.
const StatusClasses = 6

// StatusClassNames label the status words, in word order.
var StatusClassNames = [StatusClasses]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// StatusClass is the word (0..StatusClasses-1) an HTTP status counts in.
func StatusClass(code int) int {
	if code < 100 || code > 599 {
		return 0
	}
	return code / 100
}

// DurationBoundsUs are the upper bounds (inclusive, microseconds) of the
// request duration buckets: 1 ms to 10 s, the last word of the set counts
// anything longer. The Python worker mirrors them.
var DurationBoundsUs = [...]uint64{1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000}

// DurationBuckets is the number of duration words (the bounds and +Inf).
const DurationBuckets = len(DurationBoundsUs) + 1

// DurationBucket is the word (0..DurationBuckets-1) a request that took us
// microseconds counts in: the first bound it does not exceed.
func DurationBucket(us uint64) int {
	for i, b := range DurationBoundsUs {
		if us <= b {
			return i
		}
	}
	return len(DurationBoundsUs)
}

// Both sets fit in a core's words.
var _ [CoreWords - CoreDuration - DurationBuckets]struct{}
