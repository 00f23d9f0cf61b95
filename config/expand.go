package config

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// fileVars are the magic variables of the ini being read.
type fileVars struct {
	dir   string // %d: absolute directory, with a trailing slash
	name  string // %n: file name without extension
	path  string // %p: absolute path
	given string // %o: the path as written
}

func newFileVars(given, abs string) fileVars {
	return fileVars{
		dir:   filepath.Dir(abs) + "/",
		name:  strings.TrimSuffix(filepath.Base(abs), filepath.Ext(abs)),
		path:  abs,
		given: given,
	}
}

// magic returns the value of %c for the file fv, as uWSGI defines them;
// the upper-case letters name the first file read (the one given on the
// command line) instead of the current one.
func (l *loader) magic(c byte, fv fileVars) (string, bool) {
	if c >= 'A' && c <= 'Z' && strings.IndexByte("DNPCESO", c) >= 0 {
		c, fv = c+'a'-'A', l.rootVars
	}
	switch c {
	case 'd':
		return fv.dir, true
	case 'n':
		return fv.name, true
	case 'p':
		return fv.path, true
	case 'o':
		return fv.given, true
	case 's': // file name
		return filepath.Base(fv.path), true
	case 'e': // extension, without the dot
		return strings.TrimPrefix(filepath.Ext(fv.path), "."), true
	case 'c': // name of the directory holding the file
		return filepath.Base(filepath.Dir(fv.path)), true
	case 'k':
		return strconv.Itoa(l.numCPU()), true
	case 'v': // the working directory
		wd, _ := os.Getwd()
		return wd, true
	case 'h':
		h, _ := os.Hostname()
		return h, true
	case 'u':
		return strconv.Itoa(os.Getuid()), true
	case 'g':
		return strconv.Itoa(os.Getgid()), true
	case 'U':
		if u, err := user.LookupId(strconv.Itoa(os.Getuid())); err == nil {
			return u.Username, true
		}
		return strconv.Itoa(os.Getuid()), true
	case 'G':
		if g, err := user.LookupGroupId(strconv.Itoa(os.Getgid())); err == nil {
			return g.Name, true
		}
		return strconv.Itoa(os.Getgid()), true
	}
	if c >= '0' && c <= '9' { // %0 .. %9: components of the file's directory
		parts := strings.Split(strings.Trim(fv.dir, "/"), "/")
		if i := int(c - '0'); i < len(parts) {
			return parts[i], true
		}
		return "", true
	}
	return "", false
}

// magicTable is every magic variable with its value for the first ini
// read, as uWSGI shows them in uwsgi.magic_table (%% and %( included).
func (l *loader) magicTable() map[string]string {
	t := map[string]string{"%": "%", "(": "%("}
	letters := "kvhugUG"
	if l.rootVars.path != "" {
		letters += "dnposecDNPOSEC0123456789"
	}
	for i := 0; i < len(letters); i++ {
		if v, ok := l.magic(letters[i], l.rootVars); ok && v != "" {
			t[letters[i:i+1]] = v
		}
	}
	return t
}

func (l *loader) numCPU() int {
	if l.cpus > 0 {
		return l.cpus
	}
	return runtime.NumCPU()
}

// expandMagic replaces the magic variables (%d %n %p %k ..., %% for a
// literal %) and $(ENV) in a value as it is read; %(...) is left for
// placeholder resolution. As in uWSGI, an unset $(VAR) stays as written
// and an unknown %x expands to nothing (with a notice here).
func (l *loader) expandMagic(where, v string, fv fileVars) string {
	if !strings.ContainsAny(v, "%$") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '$' && i+1 < len(v) && v[i+1] == '(' {
			if end := strings.IndexByte(v[i:], ')'); end > 0 {
				name := v[i+2 : i+end]
				if val, ok := l.lookupEnv(name); ok {
					b.WriteString(val)
					i += end
					continue
				}
				l.notice("env:"+where+name, fmt.Sprintf("%s: $(%s): not set in the environment; left as written (as uWSGI does)", where, name))
			}
		}
		if c != '%' || i+1 == len(v) || v[i+1] == '(' {
			b.WriteByte(c)
			continue
		}
		i++
		if v[i] == '%' {
			b.WriteByte('%')
			continue
		}
		val, ok := l.magic(v[i], fv)
		if !ok {
			l.notice("magic:"+where+string(v[i]), fmt.Sprintf("%s: %%%c is not a magic variable supervise knows; it expands to nothing (as uWSGI does with letters it does not know); write %%%%%c for a literal %%%c", where, v[i], v[i], v[i]))
		}
		b.WriteString(val)
	}
	return b.String()
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

// expandFiles replaces @(FILE) with the file's content, less one trailing
// newline, as uWSGI does after the magic variables (a relative FILE is
// relative to the working directory, as in uWSGI). uWSGI's other @(...)
// schemes run commands or fetch URLs; supervise refuses them.
func expandFiles(v string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(v, "@(")
		if i < 0 {
			b.WriteString(v)
			return b.String(), nil
		}
		end := strings.IndexByte(v[i:], ')')
		if end < 0 {
			b.WriteString(v)
			return b.String(), nil
		}
		path := v[i+2 : i+end]
		if scheme, _, ok := strings.Cut(path, "://"); ok && !strings.Contains(scheme, "/") {
			return "", fmt.Errorf("@(%s): supervise reads plain files only (uWSGI's %s:// would run or fetch something); put the value in the ini or in an environment variable", path, scheme)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("@(%s): %w", path, err)
		}
		b.WriteString(v[:i])
		b.WriteString(strings.TrimSuffix(string(raw), "\n"))
		v = v[i+end+1:]
	}
}
