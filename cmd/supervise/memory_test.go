package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Once a generation is up the master unmaps the pages of its binary that
// start-up faulted in: its resident binary shrinks to what the loop runs.
func TestMasterReturnsStartupMemoryOnceReady(t *testing.T) {
	m, _, _ := startPreloaded(t)
	line := m.waitLog(`returned start-up memory: .*generation=1 `, 1)[0]
	f := regexp.MustCompile(`resident_kb=(\d+) released_kb=(\d+)`).FindStringSubmatch(line)
	if f == nil {
		t.Fatalf("no sizes in %q", line)
	}
	before, _ := strconv.Atoi(f[1])
	released, _ := strconv.Atoi(f[2])
	now := binaryResidentKB(t, m.cmd.Process.Pid)
	t.Logf("binary resident: %d KB at ready, %d KB released, %d KB now", before, released, now)
	if before < 1024 || released < before/2 || now > before*3/4 {
		t.Fatalf("the master's binary stayed resident: %d KB at ready, %d KB released, %d KB now", before, released, now)
	}
}

// binaryResidentKB sums Rss over pid's read-only mappings of its executable.
func binaryResidentKB(t *testing.T, pid int) int {
	t.Helper()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := smapsRssKB(t, pid, func(perms, path string) bool { return path == exe && !strings.Contains(perms, "w") })
	return kb
}

// smapsRssKB sums Rss (KB) over pid's mappings that match (by their
// permissions and path, from /proc/PID/smaps); seen says whether any did.
func smapsRssKB(t *testing.T, pid int, match func(perms, path string) bool) (kb int, seen bool) {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if !strings.HasSuffix(fields[0], ":") {
			in = len(fields) >= 6 && match(fields[1], fields[5])
			seen = seen || in
			continue
		}
		if in && fields[0] == "Rss:" {
			n, _ := strconv.Atoi(fields[1])
			kb += n
		}
	}
	return kb, seen
}
