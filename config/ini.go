package config

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// maxINIDepth bounds ini = ... includes, so a file that includes itself
// is an error instead of a stack overflow.
const maxINIDepth = 16

// maxLines bounds the lines read, after for blocks have repeated theirs.
const maxLines = 100000

// loadINI reads "file.ini" or "file.ini:section" (default section uwsgi).
//
// Reading follows uWSGI's order: while a file (and every file it
// includes) is read, magic variables (%d, %n, ...) and $(ENV) are expanded
// and if/for blocks are applied; once the outermost file is read, every
// %(placeholder) is resolved, in file order, against all keys read so far
// (so a placeholder may be defined after its use, and the first definition
// of a key wins), and only then are the options applied.
func (l *loader) loadINI(spec string) error {
	if err := l.readINI(spec); err != nil {
		return err
	}
	if l.iniDepth > 0 {
		return nil
	}
	return l.applyPending()
}

func (l *loader) readINI(spec string) error {
	if l.iniDepth >= maxINIDepth {
		return fmt.Errorf("ini %s: includes nest deeper than %d (does a file include itself?)", spec, maxINIDepth)
	}
	l.iniDepth++
	defer func() { l.iniDepth-- }()
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
	l.lastINI = abs
	pairs, found, err := ParseINI(raw, section)
	if err != nil {
		return fmt.Errorf("ini %s: %w", path, err)
	}
	for _, p := range pairs { // even in a block whose condition is false
		if fix, ok := unsupportedBlocks[p.Key]; ok {
			return fmt.Errorf("%s:%d: %s: supervise does not support this uWSGI condition; %s", path, p.Line, p.Key, fix)
		}
	}
	if !found {
		return fmt.Errorf("ini %s: no [%s] section in it", path, section)
	}
	vars := newFileVars(path, abs)
	if l.iniDepth == 1 {
		l.rootVars = vars
	}
	return l.readPairs(path, pairs, vars, nil)
}

// readPair records one key = value line whose block (if any) is active;
// underscore is what %(_) stands for inside an if or for block.
func (l *loader) readPair(where string, p Pair, vars fileVars, underscore *string) error {
	if len(l.exported) >= maxLines {
		return fmt.Errorf("%s: more than %d lines (after for blocks repeat theirs)", where, maxLines)
	}
	value, err := expandFiles(l.expandMagic(where, p.Value, vars))
	if err != nil {
		return fmt.Errorf("%s: %s = %s: %w", where, p.Key, p.Value, err)
	}
	if underscore != nil {
		value = strings.ReplaceAll(value, "%(_)", *underscore)
	}
	switch p.Key {
	case "ini":
		// uWSGI reads an include at once, before placeholders are
		// resolved; supervise resolves those defined above it.
		value, err := l.resolve(value)
		if err != nil {
			return fmt.Errorf("%s: ini = %s: %w", where, p.Value, err)
		}
		if strings.HasPrefix(value, ":") { // another section of this file
			if l.lastINI != vars.path {
				l.notice("section:"+where, fmt.Sprintf("%s: ini = %s: read from this file; uWSGI would look for it in the last file read (%s)", where, value, l.lastINI))
			}
			value = vars.path + value
		}
		if err := l.readINI(value); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		return nil
	case "set", "set-placeholder", "set-ph":
		k, v, ok := strings.Cut(value, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return fmt.Errorf("%s: %s = %s: want KEY=VALUE", where, p.Key, p.Value)
		}
		k = strings.TrimSpace(k)
		if p.Key != "set" && lookup(k) != nil {
			return fmt.Errorf("%s: %s = %s: %s is an option, not a placeholder", where, p.Key, p.Value, k)
		}
		// uwsgi.opt shows the line itself, then the key it sets (as uWSGI)
		l.export(entry{key: p.Key, value: value, where: where, placeholderOnly: true})
		l.pending = append(l.pending, len(l.exported))
		l.export(entry{key: k, value: v, where: where, placeholderOnly: p.Key != "set"})
		return nil
	}
	l.pending = append(l.pending, len(l.exported))
	l.export(entry{key: p.Key, value: value, where: where, comment: inlineComment(p.Value) >= 0})
	return nil
}

// applyPending resolves the placeholders of the lines read and applies
// them in order.
func (l *loader) applyPending() error {
	for _, i := range l.pending {
		e := &l.exported[i]
		v, err := l.resolve(e.value)
		if err != nil {
			return fmt.Errorf("%s: %s = %s: %w", e.where, e.key, e.value, err)
		}
		e.value = v // in place: a later %(key) sees the resolved value, as in uWSGI
		if e.placeholderOnly {
			continue
		}
		if lookup(e.key) == nil {
			l.placeholders = append(l.placeholders, placeholder{key: e.key, where: e.where})
			continue
		}
		if e.comment {
			v = l.readCommented(e, v)
		}
		if err := l.set(e.key, v, e.where); err != nil {
			return err
		}
	}
	l.pending = l.pending[:0]
	return nil
}

// inlineComment returns where a trailing " # ..." or " ; ..." starts in
// a value, or -1.
func inlineComment(v string) int {
	for i := 1; i < len(v); i++ {
		if (v[i] == '#' || v[i] == ';') && (v[i-1] == ' ' || v[i-1] == '\t') {
			return i
		}
	}
	return -1
}

// readCommented reads a value that carries a trailing comment the way
// uWSGI does, which keeps the comment in the value: a number stops at
// the first non-digit (so the comment drops out), a flag is true unless
// its whole value is false/off/no/0 (so "false # x" is true), and text
// keeps the comment. A notice says how it was read.
func (l *loader) readCommented(e *entry, v string) string {
	opt := lookup(e.key)
	i := inlineComment(v)
	if opt == nil || i < 0 {
		return v
	}
	before := strings.TrimSpace(v[:i])
	read, how := v, "comment included, as uWSGI reads it; put comments on their own line"
	switch opt.Kind {
	case Int, Seconds, Mode:
		read, how = before, "the comment dropped, as uWSGI's number parsing does"
	case Bool:
		read, how = "true", "uWSGI takes any value but false/off/no/0 as true, comment included"
		if b, err := parseBool(before); err == nil && !b {
			how += "; it was on under uWSGI too: remove the comment to turn it off"
		}
	}
	l.notice("inline:"+e.where, fmt.Sprintf("%s: %s = %s: read as %q (%s)", e.where, e.key, v, read, how))
	return read
}

// Pair is one key = value line of an ini section.
type Pair struct {
	Key, Value string
	Line       int
	Bare       bool // a key without = (a flag line)
}

// ParseINI returns the pairs of one section in file order, and whether
// the section exists. A bare key has an empty value, as in uWSGI (%(key)
// is empty), which a flag reads as true.
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
		pairs = append(pairs, Pair{Key: key, Value: value, Line: n, Bare: !hasValue})
	}
	return pairs, found, sc.Err()
}
