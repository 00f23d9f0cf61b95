package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// loadINI reads "file.ini" or "file.ini:section" (default section uwsgi).
func (l *loader) loadINI(spec string) error {
	path, section := spec, "uwsgi"
	if _, err := os.Stat(spec); err != nil {
		if i := strings.LastIndexByte(spec, ':'); i > 0 {
			path, section = spec[:i], spec[i+1:]
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("ini %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("ini %s: %w", path, err)
	}
	l.cfg.Files = append(l.cfg.Files, abs)
	pairs, found, err := ParseINI(raw, section)
	if err != nil {
		return fmt.Errorf("ini %s: %w", path, err)
	}
	if !found {
		return fmt.Errorf("ini %s: no [%s] section in it", path, section)
	}
	vars := fileVars{dir: filepath.Dir(abs) + "/", name: strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs)), path: abs}
	for _, p := range pairs {
		where := fmt.Sprintf("%s:%d", path, p.Line)
		value := l.expand(p.Value, vars)
		if p.Key == "ini" {
			if err := l.loadINI(value); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			continue
		}
		if lookup(p.Key) == nil {
			l.placeholders = append(l.placeholders, placeholder{key: p.Key, where: where})
			l.setPlaceholder(p.Key, value)
			continue
		}
		l.setPlaceholder(p.Key, value)
		if err := l.set(p.Key, value, where); err != nil {
			return err
		}
	}
	return nil
}

// Pair is one key = value line of an ini section.
type Pair struct {
	Key, Value string
	Line       int
}

// ParseINI returns the pairs of one section in file order, and whether
// the section exists. A bare key means true.
func ParseINI(raw []byte, section string) ([]Pair, bool, error) {
	var pairs []Pair
	found, in := false, false
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		switch {
		case line == "" || line[0] == ';' || line[0] == '#':
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, false, fmt.Errorf("line %d: section header without ]", n)
			}
			in = strings.TrimSpace(line[1:end]) == section
			found = found || in
			continue
		case !in:
			continue
		}
		key, value, hasValue := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if key == "" {
			return nil, false, fmt.Errorf("line %d: a value without a key", n)
		}
		value = strings.TrimSpace(value)
		if !hasValue {
			value = "true"
		}
		pairs = append(pairs, Pair{Key: key, Value: value, Line: n})
	}
	return pairs, found, sc.Err()
}

// fileVars are the magic variables of the ini being read.
type fileVars struct{ dir, name, path string }

// expand replaces %d %n %p %k %% %(name) and $(ENV) in an ini value.
func (l *loader) expand(v string, fv fileVars) string {
	if !strings.ContainsAny(v, "%$") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '$' && i+1 < len(v) && v[i+1] == '(' {
			if end := strings.IndexByte(v[i:], ')'); end > 0 {
				b.WriteString(l.getenv(v[i+2 : i+end]))
				i += end
				continue
			}
		}
		if c != '%' || i+1 == len(v) {
			b.WriteByte(c)
			continue
		}
		i++
		switch v[i] {
		case 'd':
			b.WriteString(fv.dir)
		case 'n':
			b.WriteString(fv.name)
		case 'p':
			b.WriteString(fv.path)
		case 'k':
			b.WriteString(strconv.Itoa(runtime.NumCPU()))
		case '%':
			b.WriteByte('%')
		case '(':
			end := strings.IndexByte(v[i:], ')')
			if end < 0 {
				b.WriteString("%(")
				continue
			}
			b.WriteString(l.placeholder(v[i+1 : i+end]))
			i += end
		default:
			b.WriteByte('%')
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

func (l *loader) getenv(name string) string {
	prefix := name + "="
	for i := len(l.environ) - 1; i >= 0; i-- {
		if strings.HasPrefix(l.environ[i], prefix) {
			return l.environ[i][len(prefix):]
		}
	}
	return ""
}
