package config

import (
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestKnownOptionsMatchUWSGI: the generated table holds exactly the
// options the installed uwsgi prints with the python3 and http plugins,
// so it cannot drift from the binary (regenerate it as
// uwsgi_options_gen.go says when this fails).
func TestKnownOptionsMatchUWSGI(t *testing.T) {
	uwsgi := requireUWSGI(t)
	out, _ := exec.Command(uwsgi, "--plugins", "python3,http", "--help").CombinedOutput() // --help exits 1
	line := regexp.MustCompile(`(?m)^    (?:-[a-zA-Z0-9]\|)?--([a-z0-9][a-z0-9_-]*)(?:\s|$)`)
	live := map[string]bool{}
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		live[m[1]] = true
	}
	if len(live) < 800 {
		t.Fatalf("uwsgi --help listed %d options:\n%s", len(live), out)
	}
	generated := map[string]bool{}
	for _, o := range uwsgiOptions {
		generated[o.name] = true
		if !live[o.name] {
			t.Errorf("%s: in uwsgi_options_gen.go, not in the binary's --help", o.name)
		}
	}
	for name := range live {
		if !generated[name] {
			t.Errorf("%s: the binary has it, uwsgi_options_gen.go does not", name)
		}
	}
}

// Every uWSGI option is known: an option (working, ignored with a notice
// or refused with a reason) or a logic key the ini reader handles. None
// is a placeholder, so strict accepts real files and no suggestion is
// made for a real name.
func TestEveryUWSGIOptionIsKnown(t *testing.T) {
	for _, u := range uwsgiOptions {
		o, g := lookup(u.name), generatedOption(u)
		switch {
		case isLogicKey(u.name):
			if o != nil {
				t.Errorf("%s: a logic key is also an option", u.name)
			}
		case o == nil:
			t.Errorf("%s: unknown to supervise", u.name)
		case g.Status == Ignored && !strings.HasPrefix(g.Help, "harmless: ") && !strings.HasPrefix(g.Help, "differs: "):
			t.Errorf("%s: the notice does not say whether behaviour differs: %q", u.name, g.Help)
		case g.Status == Refused && !strings.Contains(g.Help, ";"):
			t.Errorf("%s: a refusal must say why and what to do instead: %q", u.name, g.Help)
		}
	}
	// the names the issue reported as placeholders or "did you mean"
	for _, name := range []string{"ksm", "close-on-exec", "log-route", "log-encoder", "logformat", "log-reopen", "max-vars", "http11-socket", "if-directory", "ifenv"} {
		if lookup(name) == nil && !isLogicKey(name) {
			t.Errorf("%s: unknown", name)
		}
	}
}

// The merge rule: a hand-written entry replaces the generated one for its
// name or alias, so adding a working option never leaves a duplicate.
func TestHandWrittenOptionWinsOverGenerated(t *testing.T) {
	hand := []Option{
		works("ksm", nil, Int, "0", "test", func(*loader, string) error { return nil }),
		works("test-only", []string{"close-on-exec"}, Bool, "false", "test", func(*loader, string) error { return nil }),
	}
	merged := withUWSGIOptions(hand)
	count := map[string]int{}
	for _, o := range merged {
		count[o.Name]++
		for _, a := range o.Aliases {
			count[a]++
		}
	}
	for name, n := range count {
		if n > 1 {
			t.Errorf("%s: %d entries", name, n)
		}
	}
	if merged[0].Status != Works || count["close-on-exec"] != 1 || count["http11-socket"] != 1 {
		t.Errorf("hand-written entries lost: %+v", merged[:2])
	}
	// and the real table has no duplicate either
	seen := map[string]string{}
	for _, o := range table {
		for _, n := range append([]string{o.Name}, o.Aliases...) {
			if prev, dup := seen[n]; dup {
				t.Errorf("%s: named by %s and %s", n, prev, o.Name)
			}
			seen[n] = o.Name
		}
	}
}

// An option of a uWSGI plugin supervise does not have is named as such,
// never taken for a typo of another option.
func TestOtherPluginOptionIsNotATypo(t *testing.T) {
	path := writeINI(t, "[uwsgi]\nsocket = :3031\ngevent-wait-for-hub = true\nphp-docroot = /srv/www\nrbrequire = rubygems\n")
	c, err := Load([]string{"--ini", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	notices := strings.Join(c.Notices, "\n")
	for _, want := range []string{"gevent-wait-for-hub: an option of uWSGI's gevent plugin", "php-docroot: an option of uWSGI's php plugin", "rbrequire: an option of uWSGI's rack plugin"} {
		if !strings.Contains(notices, want) {
			t.Errorf("no %q in\n%s", want, notices)
		}
	}
	if strings.Contains(notices, "did you mean") {
		t.Errorf("a suggestion for a real option:\n%s", notices)
	}
	_, err = Load([]string{"--ini", writeINI(t, "[uwsgi]\nstrict = true\nsocket = :3031\nphp-docroot = /srv/www\n")}, nil)
	if err == nil || !strings.Contains(err.Error(), "php plugin") || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("strict: %v", err)
	}
}

// Two hand-written entries for one name (an option made to work while
// the long tail still lists it as ignored): the working one wins in
// either order and keeps the other's aliases; nothing is registered twice.
func TestWorkingEntryWinsOverIgnoredOne(t *testing.T) {
	apply := func(*loader, string) error { return nil }
	work := works("log-date", nil, String, "", "works", apply)
	ign := ignored("log-date", []string{"logdate"}, Bool, "ignored")
	for name, hand := range map[string][]Option{"works first": {work, ign}, "works last": {ign, work}} {
		merged := withUWSGIOptions(hand)
		n := 0
		for _, o := range merged {
			if o.Name == "log-date" {
				n++
				if o.Status != Works || !slices.Contains(o.Aliases, "logdate") {
					t.Errorf("%s: %+v", name, o)
				}
			}
			if o.Name == "logdate" {
				t.Errorf("%s: the alias became a generated entry", name)
			}
		}
		if n != 1 {
			t.Errorf("%s: %d log-date entries", name, n)
		}
	}
	// two ignored entries: the first stays
	merged := mergeHandWritten([]Option{ignored("x-a", []string{"x-b"}, Bool, "first"), ignored("x-a", nil, Bool, "second"), ignored("x-c", []string{"x-b"}, Bool, "third")})
	if len(merged) != 2 || merged[0].Help != "first" || len(merged[1].Aliases) != 0 {
		t.Errorf("%+v", merged)
	}
}
