package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// A killed master's semaphores go (its runtime directory is gone and its
// pid is dead or another process now); a live master's stay, whether its
// runtime directory is ours to see or only its process is.
func TestRemoveStaleSemaphores(t *testing.T) {
	shm, tmp := t.TempDir(), t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	parent := os.Getppid()
	if err := os.Mkdir(filepath.Join(tmp, "supervise-888"), 0o700); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{ // name -> removed
		fmt.Sprintf("sem.supervise-%d-5-123-l0", dead.Process.Pid):           true,  // dead pid, no directory
		"sem.supervise-1-5-999-c0":                                           true,  // pid 1 is another process (a killed master of a pid namespace)
		fmt.Sprintf("sem.supervise-%d-%d-777-l0", parent, procStart(parent)): false, // alive, another TMPDIR
		"sem.supervise-1-5-888-l0":                                           false, // its runtime directory is there
		fmt.Sprintf("sem.supervise-%d-5-1-l0", os.Getpid()):                  false, // ours (an upgrade's predecessor)
		"sem.other": false,
	}
	for n := range names {
		if err := os.WriteFile(filepath.Join(shm, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed := removeStaleSemaphores(shm, tmp)
	var want []string
	for n, gone := range names {
		if gone {
			want = append(want, filepath.Join(shm, n))
		}
	}
	sort.Strings(removed)
	sort.Strings(want)
	if strings.Join(removed, " ") != strings.Join(want, " ") {
		t.Fatalf("removed %v, want %v", removed, want)
	}
	if procStart(os.Getpid()) == 0 {
		t.Fatal("procStart of this process is 0")
	}
}
