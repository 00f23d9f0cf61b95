package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

// runCLI runs the binary's main with args and returns stdout, stderr and
// the exit code.
func runCLI(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	processTest(t)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), envRunMain+"=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Errorf("%s %v: %v", bin, args, err) // Errorf: callers run it from goroutines too
		return "", err.Error(), -1
	}
	return out.String(), errOut.String(), code
}

// Every verb answers --help, -h and `supervise help VERB` on stdout with
// exit 0, and does nothing else: the "FIFO" here is a plain file, which a
// reload or stop would write its letter into.
func TestEveryVerbHasHelp(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	writeFile(t, fifo, "")
	// 45 short processes: four at a time (each is a -race binary's start).
	var wg sync.WaitGroup
	slots := make(chan struct{}, 4)
	for _, verb := range []string{"reload", "stop", "scale", "upgrade", "stats", "top", "check", "http", "help", "version", "--reload", "--stop"} {
		name := strings.TrimPrefix(verb, "--")
		for _, args := range [][]string{{verb, "--help"}, {verb, "-h"}, {"help", verb}, {verb, "--fifo", fifo, "--pidfile", "/nonexistent", "--help"}} {
			if verb == "help" && len(args) > 2 {
				continue
			}
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer func() { <-slots; wg.Done() }()
				stdout, stderr, code := runCLI(t, os.Args[0], args...)
				if code != 0 || stderr != "" || !strings.Contains(stdout, "supervise "+name) {
					t.Errorf("supervise %s: exit %d, stderr %q, stdout %q", strings.Join(args, " "), code, stderr, stdout)
				}
			}()
		}
	}
	wg.Wait()
	if raw, _ := os.ReadFile(fifo); len(raw) != 0 {
		t.Fatalf("a verb's --help wrote %q to the master FIFO", raw)
	}
	if _, stderr, code := runCLI(t, os.Args[0], "help", "nonsense"); code != 2 || !strings.Contains(stderr, `no verb "nonsense"`) {
		t.Fatalf("help nonsense: exit %d, %q", code, stderr)
	}
}

func TestDescribeBuild(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}
	if v, r := describeBuild(info, true); v != "v0.1.0" || r != "abc123-modified" {
		t.Fatalf("module build: %s %s", v, r)
	}
	if v, r := describeBuild(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true); v != "devel" || r != "unknown" {
		t.Fatalf("devel build: %s %s", v, r)
	}
	version, revision = "v9.9.9", "pkg-1"
	defer func() { version, revision = "", "" }()
	if v, r := describeBuild(info, true); v != "v9.9.9" || r != "pkg-1" {
		t.Fatalf("-ldflags override: %s %s", v, r)
	}
}

// A real build in this checkout: the revision is the one the build info
// records (git's HEAD), the version the -ldflags one a packager sets.
func TestVersionFromBuildInfo(t *testing.T) {
	processTest(t)
	goBin := requireTool(t, "go")
	git := requireTool(t, "git")
	head, err := exec.Command(git, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skip("not a git checkout")
	}
	bin := filepath.Join(t.TempDir(), "supervise")
	build := exec.Command(goBin, "build", "-buildvcs=true", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	info, err := exec.Command(goBin, "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(info), "vcs.revision=") {
		t.Skip("go build stamps no VCS revision here (a git worktree: .git is a file); a clone does")
	}
	want := "supervise v9.9.9-test (revision " + strings.TrimSpace(string(head))
	for _, arg := range []string{"--version", "-v", "version"} {
		out, stderr, code := runCLI(t, bin, arg)
		if code != 0 || !strings.HasPrefix(out, want) || stderr != "" {
			t.Errorf("supervise %s: exit %d %q %q, want %q...", arg, code, out, stderr, want)
		}
	}
}
