package ipc

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
)

// A cache store is laid out when new, used as it is when it holds the
// same shape of cache (its items kept, the dead holder's owner word
// cleared), refused when its header differs, and made anew then with
// recreate.
func TestCacheStoreReusedOnlyForItsShape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.cache")
	spec := CacheSpec{Name: "c", Items: 4, Blocksize: 16, Keysize: 8, Hashsize: 8}
	word := func(f interface {
		ReadAt([]byte, int64) (int, error)
	}, w int) uint64 {
		var b [8]byte
		if _, err := f.ReadAt(b[:], int64(8*w)); err != nil {
			t.Fatal(err)
		}
		return binary.LittleEndian.Uint64(b[:])
	}
	f, created, err := OpenCacheStore(spec, path, false)
	if err != nil || !created || word(f, CacheHdrMagic) != CacheMagic || word(f, CacheHdrFree) != 3 {
		t.Fatalf("new store: created %v, err %v", created, err)
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], 2)
	f.WriteAt(b[:], 8*CacheHdrNItems) // as if two items were stored
	binary.LittleEndian.PutUint64(b[:], 12345)
	f.WriteAt(b[:], 8*CacheHdrOwner) // and a worker died holding the lock
	f.Close()

	f, created, err = OpenCacheStore(spec, path, false)
	if err != nil || created || word(f, CacheHdrNItems) != 2 || word(f, CacheHdrOwner) != 0 {
		t.Fatalf("reopened: created %v, err %v, items %d, owner %d", created, err, word(f, CacheHdrNItems), word(f, CacheHdrOwner))
	}
	f.Close()

	lru := spec
	lru.Flags = CacheFlagPurgeLRU // same size, another header
	if _, _, err := OpenCacheStore(lru, path, false); err == nil || !strings.Contains(err.Error(), "header word 5") {
		t.Fatalf("another shape: %v", err)
	}
	bigger := spec
	bigger.Items = 8
	if _, _, err := OpenCacheStore(bigger, path, false); err == nil || !strings.Contains(err.Error(), "store_delete=1") {
		t.Fatalf("another size: %v", err)
	}
	f, created, err = OpenCacheStore(bigger, path, true)
	if err != nil || !created || word(f, CacheHdrItems) != 8 || word(f, CacheHdrNItems) != 0 {
		t.Fatalf("recreated: created %v, err %v", created, err)
	}
	f.Close()
}
