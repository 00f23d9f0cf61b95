package python

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cacheDir is where Python keeps a directory's bytecode (PEP 3147).
const cacheDir = "__pycache__"

// MoveBytecode hands the bytecode cache that the Python processes of an
// earlier runtime directory (from) compiled to a new one (to), where
// WriteAll has just written the files: an upgraded master's zygote then
// loads its modules instead of compiling ~4,000 lines on the cores that
// serve requests during the upgrade.
//
// Python uses a cached file when its source's size and modification time
// match what the cache recorded. A file whose embedded source is the
// same as the earlier one's takes the earlier file's modification time;
// the cache of a file that changed (another binary) is removed, so it
// is compiled again whatever the clock says. The cache directory is
// moved, not copied: it keeps the owner and mode of the workers that
// wrote it (a master that drops privileges shares the directory with
// them). A missing cache (PYTHONDONTWRITEBYTECODE) moves nothing.
func MoveBytecode(from, to string) error {
	if _, err := os.Stat(filepath.Join(from, cacheDir)); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var changed []string
	for _, name := range Names() {
		src, _ := files.ReadFile(name)
		old := filepath.Join(from, name)
		st, err := os.Stat(old)
		if err != nil || st.Size() != int64(len(src)) || !sameContent(old, src) {
			changed = append(changed, strings.TrimSuffix(name, ".py"))
			continue
		}
		if err := os.Chtimes(filepath.Join(to, name), st.ModTime(), st.ModTime()); err != nil {
			return fmt.Errorf("keeping the Python bytecode: %w", err)
		}
	}
	if err := os.Rename(filepath.Join(from, cacheDir), filepath.Join(to, cacheDir)); err != nil {
		return fmt.Errorf("keeping the Python bytecode: %w", err)
	}
	for _, stem := range changed {
		stale, _ := filepath.Glob(filepath.Join(to, cacheDir, stem+".*.pyc"))
		for _, p := range stale {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing stale Python bytecode: %w", err)
			}
		}
	}
	return nil
}

func sameContent(path string, src []byte) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Equal(b, src)
}
