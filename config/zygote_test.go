package config

import (
	"runtime"
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

// reload-fork-width defaults to half the CPUs (at least one); 0 means
// all at once; a negative or non-number is refused.
func TestReloadForkWidth(t *testing.T) {
	if c := mustLoad(t, nil); c.ReloadForkWidth != max(1, runtime.NumCPU()/2) || c.ReloadForkWidth < 1 {
		t.Fatalf("default reload-fork-width %d, want half of %d CPUs, at least 1", c.ReloadForkWidth, runtime.NumCPU())
	}
	for v, want := range map[string]int{"0": 0, "3": 3} {
		if c := mustLoad(t, []string{"--reload-fork-width", v}); c.ReloadForkWidth != want {
			t.Errorf("reload-fork-width %s: %d", v, c.ReloadForkWidth)
		}
	}
	for _, bad := range []string{"-1", "two", ""} {
		_, err := Load([]string{"--reload-fork-width=" + bad}, nil)
		if err == nil || !strings.Contains(err.Error(), "not a number of workers") {
			t.Errorf("reload-fork-width %q: error %v, want it refused", bad, err)
		}
	}
}
