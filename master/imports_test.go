package master

import (
	"os/exec"
	"strings"
	"testing"
)

// The loop never imports the configuration, nor the wiring that reads
// it: it gets a Plan, an OS seam and hooks, so every decision it makes is
// testable with a fake OS and a fake clock. This is the design's
// never-rule; the wiring lives in package supervisor.
func TestLoopDoesNotImportTheWiring(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to list the imports")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const module = "github.com/supervise-go/supervise/"
	// uwsgi comes with stats (request lines from the scoreboard's vars).
	allowed := map[string]bool{module + "master": true, module + "ipc": true, module + "stats": true, module + "uwsgi": true}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module) && !allowed[dep] {
			t.Errorf("package master imports %s; the loop may use only ipc and stats (config -> plan is the wiring's job, in package supervisor)", dep)
		}
	}
}
