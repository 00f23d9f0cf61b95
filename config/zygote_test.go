package config

import (
	"slices"
	"strings"
	"testing"
)

// preload-warmup takes paths, in order, from an ini or flags; anything
// else is refused with an example.
func TestPreloadWarmupPaths(t *testing.T) {
	ini := writeINI(t, "[uwsgi]\npreload-warmup = /admin/login/\npreload-warmup = /search?q=x\n")
	c := mustLoad(t, []string{"--ini", ini})
	if want := []string{"/admin/login/", "/search?q=x"}; !slices.Equal(c.Preload.Warmup, want) {
		t.Fatalf("warm-up paths %q, want %q", c.Preload.Warmup, want)
	}
	for _, bad := range []string{"admin/login/", "http://x/", "/a b"} {
		_, err := Load([]string{"--preload-warmup", bad}, nil)
		if err == nil || !strings.Contains(err.Error(), "is not a path") {
			t.Errorf("preload-warmup %q: error %v, want it refused as not a path", bad, err)
		}
	}
}
