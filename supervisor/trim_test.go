package supervisor

import (
	"os"
	"testing"
	"unsafe"
)

// trimProbe lives in the binary's writable data: trimming must leave it.
var trimProbe = []int{1, 2, 3}

// Trimming unmaps the resident pages of the binary's read-only mappings
// (they fault back from the page cache as the code runs) and no
// writable mapping: the process's state is intact.
func TestTrimMemoryDropsTheBinarysStartupPages(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Skip("no /proc/self/exe")
	}
	trimProbe[1] = 7
	probe := uintptr(unsafe.Pointer(&trimProbe))
	smaps := openSmaps()
	if smaps == nil {
		t.Skip("no /proc/self/smaps")
	}
	defer smaps.Close()
	for _, m := range readOnlyMappings(smaps, exe) {
		if probe >= m.start && probe < m.end {
			t.Fatalf("the writable variable at %#x is in a mapping trimming would drop (%#x-%#x)", probe, m.start, m.end)
		}
	}
	r := trimMemory(smaps)
	after := 0
	for _, m := range readOnlyMappings(smaps, exe) {
		after += m.rssKB
	}
	t.Logf("binary resident %d KB -> %d KB over %d mappings (%d KB released)", r.BinaryKB, after, r.Mappings, r.ReleasedKB)
	if r.Mappings < 2 {
		t.Fatalf("trimmed %d mappings of %s, want its text and read-only data", r.Mappings, exe)
	}
	if r.BinaryKB < 1024 || after > r.BinaryKB/2 || r.ReleasedKB < r.BinaryKB/2 {
		t.Fatalf("the binary's resident pages went from %d KB to %d KB (%d KB released), want under half",
			r.BinaryKB, after, r.ReleasedKB)
	}
	if trimProbe[0] != 1 || trimProbe[1] != 7 || trimProbe[2] != 3 {
		t.Fatalf("writable data changed by trimming: %v", trimProbe)
	}
}
