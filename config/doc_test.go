package config

import (
	"os"
	"testing"
)

func TestOptionsDocIsCurrent(t *testing.T) {
	const path = "../docs/options.md"
	want := OptionsMarkdown()
	if os.Getenv("UPDATE_DOCS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != want {
		t.Fatalf("%s is out of date with config/options.go: run UPDATE_DOCS=1 go test ./config/", path)
	}
}
