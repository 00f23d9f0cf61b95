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
	return l.applyPairs(path, pairs, vars)
}

// applyPairs applies a section's lines, with uWSGI's blocks: if-env /
// if-not-env ... endif, and for = a b c ... endfor (%(_) is the item).
func (l *loader) applyPairs(path string, pairs []Pair, vars fileVars) error {
	var conds []bool
	active := func() bool {
		for _, c := range conds {
			if !c {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(pairs); i++ {
		p := pairs[i]
		where := fmt.Sprintf("%s:%d", path, p.Line)
		switch p.Key {
		case "if-env", "if-not-env":
			val, set := l.lookupEnv(l.expand(p.Value, vars))
			if set && p.Key == "if-env" && active() {
				l.setPlaceholder("_", val)
			}
			conds = append(conds, set == (p.Key == "if-env"))
			continue
		case "endif":
			if len(conds) == 0 {
				return fmt.Errorf("%s: endif without if-env", where)
			}
			conds = conds[:len(conds)-1]
			continue
		case "for":
			end := i + 1
			for end < len(pairs) && pairs[end].Key != "endfor" {
				end++
			}
			if end == len(pairs) {
				return fmt.Errorf("%s: for without endfor", where)
			}
			if active() {
				for _, item := range strings.Fields(l.expand(p.Value, vars)) {
					l.setPlaceholder("_", item)
					if err := l.applyPairs(path, pairs[i+1:end], vars); err != nil {
						return err
					}
				}
			}
			i = end
			continue
		case "endfor":
			return fmt.Errorf("%s: endfor without for", where)
		}
		if !active() {
			continue
		}
		if err := l.applyPair(where, p, vars); err != nil {
			return err
		}
	}
	if len(conds) > 0 {
		return fmt.Errorf("%s: if-env without endif", path)
	}
	return nil
}

// applyPair applies one key = value line.
func (l *loader) applyPair(where string, p Pair, vars fileVars) error {
	if strings.Contains(p.Value, " #") || strings.Contains(p.Value, " ;") {
		l.notice("inline:"+where, fmt.Sprintf("%s: %s = %s: the text after # or ; is part of the value (uWSGI reads it so too); put comments on their own line", where, p.Key, p.Value))
	}
	value := l.expand(p.Value, vars)
	if p.Key == "ini" {
		if strings.HasPrefix(value, ":") { // another section of this file
			value = vars.path + value
		}
		if err := l.loadINI(value); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		return nil
	}
	l.setPlaceholder(p.Key, value)
	if lookup(p.Key) == nil {
		l.placeholders = append(l.placeholders, placeholder{key: p.Key, where: where})
		return nil
	}
	return l.set(p.Key, value, where)
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
	v, _ := l.lookupEnv(name)
	return v
}

func (l *loader) lookupEnv(name string) (string, bool) {
	prefix := name + "="
	for i := len(l.environ) - 1; i >= 0; i-- {
		if strings.HasPrefix(l.environ[i], prefix) {
			return l.environ[i][len(prefix):], true
		}
	}
	return "", false
}
