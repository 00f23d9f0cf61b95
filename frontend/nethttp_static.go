package frontend

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// staticMap serves the files under Dir at URL prefix Prefix (uWSGI's
// static-map = /static=/srv/app/static).
type staticMap struct {
	Prefix string // "/static", no trailing slash
	Dir    string
	root   *os.Root // opens only beneath Dir, even through symlinks
	real   string   // Dir with its symlinks resolved
}

// parseStaticMap reads "/url=/dir".
func parseStaticMap(s string) (*staticMap, error) {
	prefix, dir, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(prefix, "/") || dir == "" {
		return nil, fmt.Errorf("static-map %q: want /url=/directory", s)
	}
	m := &staticMap{Prefix: strings.TrimRight(documentURI(prefix), "/"), Dir: dir}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("static-map %q: %w", s, err)
	}
	m.root = root
	if m.real, err = filepath.EvalSymlinks(dir); err != nil {
		return nil, fmt.Errorf("static-map %q: %w", s, err)
	}
	return m, nil
}

// rel is the file path under m for a request's document path, or false
// when the path is not under m's prefix.
func (m *staticMap) rel(docPath string) (string, bool) {
	rest, ok := strings.CutPrefix(docPath, m.Prefix)
	if !ok || rest != "" && rest[0] != '/' && m.Prefix != "" {
		return "", false
	}
	rest = strings.TrimLeft(rest, "/")
	return rest, rest != ""
}

// serveStatic serves a GET or HEAD for a mapped path. It returns handled
// false when the request is not for a file under any map (no such file,
// a directory, a special file): the application gets it, as with uWSGI.
// The document path is already decoded and has no "." or ".." left, so
// lexically it cannot leave the directory; os.Root refuses symlinks that
// lead out of it, unless the target is under a static-safe directory.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request, docPath string) (status int, n int64, handled bool) {
	for _, m := range s.statics {
		rel, ok := m.rel(docPath)
		if !ok {
			continue
		}
		f, err := m.root.Open(rel)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return 0, 0, false
			}
			if f, err = s.openSafe(m, rel); err != nil {
				s.warn("static", "static file outside its static-map directory refused; 403", "uri", r.RequestURI,
					"dir", m.Dir, "error", err)
				return plainError(w, http.StatusForbidden), 0, true
			}
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return 0, 0, false
		}
		cw := &countingWriter{ResponseWriter: w}
		http.ServeContent(cw, r, fi.Name(), fi.ModTime(), f)
		f.Close()
		return cw.status(), cw.n, true
	}
	return 0, 0, false
}

// openSafe opens a file whose symlinks lead out of its map's directory,
// but only if they end under a static-safe directory.
func (s *Server) openSafe(m *staticMap, rel string) (*os.File, error) {
	target, err := filepath.EvalSymlinks(filepath.Join(m.Dir, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	for _, safe := range append([]string{m.real}, s.staticSafe...) {
		if within(target, safe) {
			return os.Open(target)
		}
	}
	return nil, fmt.Errorf("%s leads to %s (add its directory to static-safe to allow it)", rel, target)
}

func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimRight(dir, "/")+"/")
}

// countingWriter records what http.ServeContent sends, keeping its
// sendfile path (ReadFrom) and Flush.
type countingWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (c *countingWriter) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := c.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(c.ResponseWriter, r)
	}
	c.n += n
	return n, err
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *countingWriter) status() int {
	if c.code == 0 {
		return http.StatusOK
	}
	return c.code
}
