// Package python embeds the Python worker: worker.py, a stdlib-only file
// that the master writes into its private runtime directory and runs with
// the app's interpreter, and the modules beside it (uwsgi_api.py and the
// other *.py files here), which worker.py loads from its own directory.
package python

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the worker's file name in the runtime directory.
const FileName = "worker.py"

// Source is worker.py.
//
//go:embed worker.py
var Source []byte

// BootFileName is what the master runs: boot.py runs worker.py as
// __main__ from a bytecode cache beside it (Python never caches the
// script it is given).
const BootFileName = "boot.py"

// APIFileName is the uwsgi module's file (uwsgi_api.py) beside worker.py;
// the worker installs it as sys.modules["uwsgi"] before the app loads.
const APIFileName = "uwsgi_api.py"

// APISource is uwsgi_api.py.
//
//go:embed uwsgi_api.py
var APISource []byte

// files is every Python file the worker needs beside it.
//
//go:embed *.py
var files embed.FS

// Names lists the embedded Python files (worker.py among them).
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// WriteAll writes every embedded Python file into dir with mode perm and
// returns their paths, worker.py first.
func WriteAll(dir string, perm os.FileMode) ([]string, error) {
	paths := []string{filepath.Join(dir, FileName)}
	for _, name := range Names() {
		if name != FileName {
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	for _, p := range paths {
		src, err := files.ReadFile(filepath.Base(p))
		if err == nil {
			err = os.WriteFile(p, src, perm)
		}
		if err != nil {
			return nil, fmt.Errorf("writing the Python worker: %w", err)
		}
	}
	return paths, nil
}
