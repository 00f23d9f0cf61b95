package ipc

import (
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// The uWSGI cache (cache2 = ..., cache = N): one memfd per cache, created
// and laid out by the master before any worker and kept across respawns
// and reloads. The Python worker's uwsgi module (worker/python/
// uwsgi_cache.py) maps it and does every operation itself under the
// cache's lock (a named POSIX semaphore, see EnvSemPrefix). The layout
// follows uWSGI's core/cache.c: a hash table of item indexes, a stack of
// free item indexes, the items (a header and the key) and one value block
// per item. Every word is a little-endian uint64. docs/contract.md.
const (
	// EnvCaches lists the caches: a JSON array of [name, fd], the default
	// cache (the one uwsgi.cache_get uses without a name) first.
	EnvCaches = "SUPERVISE_CACHES"
	// EnvSemPrefix names the workers' POSIX semaphores: uwsgi.lock(n) is
	// PREFIX-lN, a cache's lock PREFIX-cI (I its index in EnvCaches). The
	// first worker to need one creates it (sem_open O_CREAT|O_EXCL); the
	// master removes /dev/shm/sem.PREFIX-* when it exits (SemPrefix).
	EnvSemPrefix = "SUPERVISE_SEM_PREFIX"

	CacheMagic = 0x3148434143565053 // "SPVCACH1"

	// Header words.
	CacheHdrMagic       = 0
	CacheHdrItems       = 1 // max_items: slot 0 is never used, as in uWSGI
	CacheHdrBlocksize   = 2 // the largest value, bytes
	CacheHdrKeysize     = 3 // the longest key, bytes
	CacheHdrHashsize    = 4
	CacheHdrFlags       = 5
	CacheHdrMathInitial = 6 // int64: what cache_inc & co start from
	CacheHdrItemBytes   = 7 // one item: CacheItemWords words and the key
	CacheHdrHashOff     = 8 // byte offsets of the sections
	CacheHdrStackOff    = 9
	CacheHdrItemsOff    = 10
	CacheHdrDataOff     = 11
	CacheHdrNItems      = 12 // items stored
	CacheHdrFree        = 13 // free indexes on the stack (stack[1..free])
	CacheHdrLRUHead     = 14
	CacheHdrLRUTail     = 15
	CacheHdrNextScan    = 16 // the earliest expiry, 0: none (uWSGI's next_scan)
	CacheHdrFull        = 17 // times a set found the cache full
	CacheHdrOwner       = 18 // pid holding the cache's lock, 0 when free
	// CacheHdrVersion counts changes (every set, update and delete, under
	// the lock): a worker may answer a get from what it read before while
	// the version has not moved.
	CacheHdrVersion  = 19
	CacheHeaderWords = 64

	// Flags.
	CacheFlagPurgeLRU    = 1
	CacheFlagClearOnFull = 2
	CacheFlagIgnoreFull  = 4
	CacheFlagNoExpire    = 8

	// Item words; the key's bytes follow them.
	CacheItemKeylen  = 0
	CacheItemVallen  = 1
	CacheItemHash    = 2 // crc32 of the key
	CacheItemExpires = 3 // unix seconds; 0: never
	CacheItemNext    = 4 // hash chain
	CacheItemPrev    = 5
	CacheItemLRUPrev = 6
	CacheItemLRUNext = 7
	CacheItemWords   = 8
)

// CacheSpec is the shape of one cache (config.CacheSpec says how the
// options read into it).
type CacheSpec struct {
	Name        string
	Items       uint64
	Blocksize   uint64
	Keysize     uint64
	Hashsize    uint64
	Flags       uint64
	MathInitial int64
}

// CacheLayout is where each section of a cache's memfd starts, and its size.
type CacheLayout struct {
	ItemBytes, HashOff, StackOff, ItemsOff, DataOff, Size uint64
}

// Layout computes the sections of a cache of this shape.
func (s CacheSpec) Layout() CacheLayout {
	var l CacheLayout
	l.ItemBytes = CacheItemWords*8 + (s.Keysize+7)/8*8
	l.HashOff = CacheHeaderWords * 8
	l.StackOff = l.HashOff + 8*s.Hashsize
	l.ItemsOff = l.StackOff + 8*s.Items
	l.DataOff = l.ItemsOff + l.ItemBytes*s.Items
	l.Size = l.DataOff + s.Blocksize*s.Items
	return l
}

// CreateCache makes the memfd of one cache, sized and laid out, every
// item free. The pages are only touched as values are written (the
// header, the free stack), so a large cache costs little until used.
func CreateCache(s CacheSpec) (*os.File, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("supervise-cache-"+s.Name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("cache %q: memfd_create: %w", s.Name, err)
	}
	f := os.NewFile(uintptr(fd), "cache "+s.Name)
	if err := layOut(f, s); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s CacheSpec) check() error {
	if s.Items < 1 || s.Blocksize == 0 || s.Keysize == 0 || s.Hashsize == 0 {
		return fmt.Errorf("cache %q: items, blocksize, keysize and hashsize more than 0", s.Name)
	}
	return nil
}

// OpenCacheStore maps cache s onto the file path instead of a memfd
// (cache2 store=PATH), so the cache outlives the master, as uWSGI's store:
// a missing file is created and laid out (created true); a file this
// shape of cache was stored in is used as it is, its items kept and its
// lock's owner word cleared (that holder belonged to an earlier master).
// A file of another size or shape is an error, as in uWSGI, unless
// recreate (store_delete): then it is removed and made anew.
func OpenCacheStore(s CacheSpec, path string, recreate bool) (f *os.File, created bool, err error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("cache %q: store: %w", s.Name, err)
	}
	st, err := f.Stat()
	if err == nil && st.Size() > 0 {
		if why := s.storedShape(f, st); why == "" {
			var zero [8]byte
			if _, err := f.WriteAt(zero[:], 8*CacheHdrOwner); err != nil {
				f.Close()
				return nil, false, fmt.Errorf("cache %q: store %s: %w", s.Name, path, err)
			}
			return f, false, nil
		} else if !recreate {
			f.Close()
			return nil, false, fmt.Errorf("cache %q: store %s: %s (remove the file, set the cache's shape back, or add store_delete=1 to start it empty)", s.Name, path, why)
		}
		err = f.Truncate(0)
	}
	if err == nil {
		err = layOut(f, s)
	}
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("cache %q: store %s: %w", s.Name, path, err)
	}
	return f, true, nil
}

// storedShape says how the cache stored in f differs from s ("" when it
// is s's: same size and the same header words up to the sections' offsets).
func (s CacheSpec) storedShape(f *os.File, st os.FileInfo) string {
	l := s.Layout()
	if !st.Mode().IsRegular() || uint64(st.Size()) != l.Size {
		return fmt.Sprintf("it holds %d bytes, this cache takes %d (items, blocksize or keysize changed, or it is not a supervise cache)", st.Size(), l.Size)
	}
	var head [8 * (CacheHdrDataOff + 1)]byte
	if _, err := f.ReadAt(head[:], 0); err != nil {
		return err.Error()
	}
	want := map[int]uint64{CacheHdrMagic: CacheMagic, CacheHdrItems: s.Items, CacheHdrBlocksize: s.Blocksize,
		CacheHdrKeysize: s.Keysize, CacheHdrHashsize: s.Hashsize, CacheHdrFlags: s.Flags, CacheHdrMathInitial: uint64(s.MathInitial),
		CacheHdrItemBytes: l.ItemBytes, CacheHdrHashOff: l.HashOff, CacheHdrStackOff: l.StackOff,
		CacheHdrItemsOff: l.ItemsOff, CacheHdrDataOff: l.DataOff}
	for w := CacheHdrMagic; w <= CacheHdrDataOff; w++ {
		if got := binary.LittleEndian.Uint64(head[8*w:]); got != want[w] {
			return fmt.Sprintf("header word %d is %d, this cache's is %d (another cache's shape or options)", w, got, want[w])
		}
	}
	return ""
}

// layOut sizes f for s and writes the header and the free stack.
func layOut(f *os.File, s CacheSpec) error {
	l := s.Layout()
	fd := int(f.Fd())
	if err := unix.Ftruncate(fd, int64(l.Size)); err != nil {
		return fmt.Errorf("cache %q: %d bytes of shared memory: %w (lower items or blocksize)", s.Name, l.Size, err)
	}
	head := l.ItemsOff // header, hash table and free stack
	mem, err := unix.Mmap(fd, 0, int(head), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("cache %q: mmap: %w", s.Name, err)
	}
	defer unix.Munmap(mem)
	put := func(word int, v uint64) { binary.LittleEndian.PutUint64(mem[8*word:], v) }
	put(CacheHdrItems, s.Items)
	put(CacheHdrBlocksize, s.Blocksize)
	put(CacheHdrKeysize, s.Keysize)
	put(CacheHdrHashsize, s.Hashsize)
	put(CacheHdrFlags, s.Flags)
	put(CacheHdrMathInitial, uint64(s.MathInitial))
	put(CacheHdrItemBytes, l.ItemBytes)
	put(CacheHdrHashOff, l.HashOff)
	put(CacheHdrStackOff, l.StackOff)
	put(CacheHdrItemsOff, l.ItemsOff)
	put(CacheHdrDataOff, l.DataOff)
	// uWSGI's unused stack: stack[1..items-1] = 1..items-1, popped from the top.
	for i := uint64(1); i < s.Items; i++ {
		binary.LittleEndian.PutUint64(mem[l.StackOff+8*i:], i)
	}
	put(CacheHdrFree, s.Items-1)
	put(CacheHdrMagic, CacheMagic) // last: the cache is ready
	return nil
}
