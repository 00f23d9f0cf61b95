package supervisor

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func boardFileSize(t testing.TB, f *os.File) int64 {
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// mapRW maps f shared and writable, as a worker does; unmapped and closed
// when the test ends.
func mapRW(t testing.TB, f *os.File, size int) []byte {
	mem, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem); f.Close() })
	return mem
}
