package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// INI's output is a loadable ini that gives the same settings: every
// corpus file that loads is read, written with INI, and read again.
func TestINIOutputLoadsToTheSameSettings(t *testing.T) {
	files, err := filepath.Glob("testdata/ini/*.ini")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	loaded := 0
	for _, path := range files {
		c, err := load([]string{"--ini", path}, corpusEnv, corpusCPUs)
		if err != nil {
			continue
		}
		loaded++
		out := filepath.Join(t.TempDir(), "out.ini")
		if err := os.WriteFile(out, []byte(INI(c)), 0o644); err != nil {
			t.Fatal(err)
		}
		again, err := load([]string{"--ini", out}, nil, corpusCPUs)
		if err != nil {
			t.Errorf("%s: its INI output does not load: %v\n%s", path, err, INI(c))
			continue
		}
		if !reflect.DeepEqual(Settings(again), Settings(c)) {
			t.Errorf("%s: settings differ after a round trip:\n%s\n---\n%s", path, Render(c), Render(again))
		}
		if !strings.HasPrefix(strings.SplitN(INI(c), "[uwsgi]\n", 2)[1], strings.SplitN(Render(c), "\n", 2)[0]) {
			t.Errorf("%s: INI does not hold Render's lines", path)
		}
	}
	if loaded < 15 {
		t.Fatalf("only %d corpus files load", loaded)
	}
}
