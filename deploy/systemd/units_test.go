// Package systemd holds the unit files; these tests check them with
// systemd-analyze: verify, and the sandbox's security exposure.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func analyzer(t *testing.T) string {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("SUPERVISE_TEST_REQUIRE") == "1" {
			t.Fatal("systemd-analyze missing: apt-get install systemd")
		}
		t.Skip("no systemd-analyze")
	}
	return analyze
}

// instance writes unit text as the "demo" instance of name in dir, with
// extra appended to its [Service] section (a drop-in's lines).
func instance(t *testing.T, dir, name, extra string) string {
	t.Helper()
	raw, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	// verify wants the program to exist; any executable stands in.
	text := strings.ReplaceAll(string(raw), "/usr/local/bin/supervise", os.Args[0])
	if extra != "" {
		text = strings.Replace(text, "\n[Install]", "\n"+extra+"\n[Install]", 1)
	}
	path := filepath.Join(dir, strings.Replace(name, "@.", "@demo.", 1))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rootDropIn is root.conf's [Service] lines.
func rootDropIn(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("root.conf")
	if err != nil {
		t.Fatal(err)
	}
	_, lines, ok := strings.Cut(string(raw), "[Service]\n")
	if !ok {
		t.Fatal("root.conf has no [Service] section")
	}
	return lines
}

func TestUnitsVerify(t *testing.T) {
	analyze := analyzer(t)
	for _, extra := range []string{"", rootDropIn(t)} {
		dir := t.TempDir()
		units := []string{instance(t, dir, "supervise@.service", extra), instance(t, dir, "supervise@.socket", "")}
		cmd := exec.Command(analyze, append([]string{"verify"}, units...)...)
		cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "supervise@demo") {
			t.Fatalf("systemd-analyze verify (root.conf: %v): %v\n%s", extra != "", err, out)
		}
	}
}

var exposureLine = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// The sandbox keeps the template unit's exposure at 3.0 or below (issue 21;
// the unsandboxed unit rated 9.6 UNSAFE), with root.conf too.
func TestUnitsSecurityExposure(t *testing.T) {
	analyze := analyzer(t)
	for _, c := range []struct {
		name, extra string
		max         float64
	}{{"template", "", 3.0}, {"template + root.conf", rootDropIn(t), 3.0}} {
		unit := instance(t, t.TempDir(), "supervise@.service", c.extra)
		out, err := exec.Command(analyze, "security", "--offline=yes", unit).CombinedOutput()
		m := exposureLine.FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s: systemd-analyze security: %v\n%s", c.name, err, out)
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: exposure %.1f", c.name, score)
		if score > c.max {
			t.Errorf("%s: exposure %.1f, want <= %.1f:\n%s", c.name, score, c.max, out)
		}
	}
}

// The socket is the web server's group's alone, never world-writable.
func TestSocketUnitMode(t *testing.T) {
	raw, err := os.ReadFile("supervise@.socket")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SocketMode=0660\n", "SocketGroup=www-data\n"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("supervise@.socket lacks %q", strings.TrimSpace(want))
		}
	}
}
