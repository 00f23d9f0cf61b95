// Package systemd holds the unit files; this test checks them with
// systemd-analyze verify.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("SUPERVISE_TEST_REQUIRE") == "1" {
			t.Fatal("systemd-analyze missing: apt-get install systemd")
		}
		t.Skip("no systemd-analyze")
	}
	dir := t.TempDir()
	var units []string
	for _, name := range []string{"supervise@.service", "supervise@.socket"} {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// verify wants the program to exist; any executable stands in.
		text := strings.ReplaceAll(string(raw), "/usr/local/bin/supervise", os.Args[0])
		instance := filepath.Join(dir, strings.Replace(name, "@.", "@demo.", 1))
		if err := os.WriteFile(instance, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, instance)
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, units...)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=warning")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Contains(string(out), "supervise@demo") {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
