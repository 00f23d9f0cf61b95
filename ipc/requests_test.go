package ipc

import "testing"

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]int{0: 0, 99: 0, 100: 1, 200: 2, 204: 2, 301: 3, 404: 4, 499: 4, 500: 5, 599: 5, 600: 0, -1: 0} {
		if got := StatusClass(code); got != want {
			t.Errorf("StatusClass(%d) = %d (%s), want %d", code, got, StatusClassNames[got], want)
		}
	}
}

// Bounds are inclusive upper bounds, as Prometheus's le.
func TestDurationBucket(t *testing.T) {
	for us, want := range map[uint64]int{0: 0, 1000: 0, 1001: 1, 2500: 1, 4999: 2, 10_000_000: 12, 10_000_001: 13, 1 << 63: 13} {
		if got := DurationBucket(us); got != want {
			t.Errorf("DurationBucket(%d) = %d, want %d", us, got, want)
		}
	}
	for i := 1; i < len(DurationBoundsUs); i++ {
		if DurationBoundsUs[i] <= DurationBoundsUs[i-1] {
			t.Fatalf("bounds not increasing at %d: %v", i, DurationBoundsUs)
		}
	}
}
