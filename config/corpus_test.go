package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The corpus in testdata/ini holds one ini per syntax form real files use
// (written for these tests). Each NAME.ini has NAME.golden: the error (if
// any), the notices, and the effective settings as `supervise check`
// prints them (Render), with the corpus directory written $CORPUS.
// UPDATE_GOLDEN=1 rewrites the goldens; review the diff before committing.

// corpusEnv is the environment every corpus file is read with.
var corpusEnv = []string{"HOME=/home/app", "DEPLOY_ENV=production", "APP_PORT=8000", "VENV=/srv/venv", "EMPTY="}

// corpusCPUs is what %k gives in the corpus.
const corpusCPUs = 4

func TestINICorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/ini/*.ini")
	if err != nil || len(files) < 20 {
		t.Fatalf("corpus: %v %v", files, err)
	}
	dir, err := filepath.Abs("testdata/ini")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".ini")
		t.Run(name, func(t *testing.T) {
			got := corpusResult(path, dir)
			golden := strings.TrimSuffix(path, ".ini") + ".golden"
			if os.Getenv("UPDATE_GOLDEN") == "1" {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (UPDATE_GOLDEN=1 writes it; review it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from %s:\n--- got\n%s--- want\n%s", path, golden, got, want)
			}
		})
	}
}

func corpusResult(path, dir string) string {
	c, err := load([]string{"--ini", path}, corpusEnv, corpusCPUs)
	var b strings.Builder
	b.WriteString("# error\n")
	if err != nil {
		b.WriteString(err.Error() + "\n")
	}
	b.WriteString("# notices\n")
	for _, n := range c.Notices {
		b.WriteString(n + "\n")
	}
	b.WriteString("# settings\n")
	if err == nil {
		b.WriteString(Render(c))
	}
	return strings.ReplaceAll(b.String(), dir, "$CORPUS")
}
