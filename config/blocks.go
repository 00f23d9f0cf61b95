package config

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// uWSGI's configuration logic: a block opens with if-* or for-* and closes
// with endif, endfor, end, end-if or end-for (any of them closes any
// block, as in uWSGI). Inside a block %(_) is the matched value or the
// loop item. uWSGI does not nest blocks; supervise does.

// ifBlocks test their value; %(_) becomes what the test found.
var ifBlocks = map[string]func(l *loader, arg string) (ok bool, underscore string){
	"if-env":     func(l *loader, arg string) (bool, string) { return l.envTest(arg) },
	"if-not-env": func(l *loader, arg string) (bool, string) { ok, v := l.envTest(arg); return !ok, v },
	"if-opt":     func(l *loader, arg string) (bool, string) { return l.optTest(arg) },
	"if-not-opt": func(l *loader, arg string) (bool, string) { ok, v := l.optTest(arg); return !ok, v },
	"if-exists":  func(_ *loader, arg string) (bool, string) { _, err := os.Stat(arg); return err == nil, arg },
	"if-not-exists": func(_ *loader, arg string) (bool, string) {
		_, err := os.Stat(arg)
		return err != nil, arg
	},
	"if-file":     func(_ *loader, arg string) (bool, string) { return isRegular(arg), arg },
	"if-not-file": func(_ *loader, arg string) (bool, string) { return !isRegular(arg), arg },
	"if-dir":      func(_ *loader, arg string) (bool, string) { return isDir(arg), arg },
	"if-not-dir":  func(_ *loader, arg string) (bool, string) { return !isDir(arg), arg },
	"if-hostname": func(_ *loader, arg string) (bool, string) { h, _ := os.Hostname(); return h == arg, arg },
	"if-not-hostname": func(_ *loader, arg string) (bool, string) {
		h, _ := os.Hostname()
		return h != arg, arg
	},
}

// forBlocks list their items.
var forBlocks = map[string]func(arg string) ([]string, error){
	"for": func(arg string) ([]string, error) { return strings.Fields(arg), nil },
	"for-times": func(arg string) ([]string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(arg))
		if err != nil || n > maxLines {
			return nil, fmt.Errorf("not a whole number up to %d", maxLines)
		}
		var items []string
		for i := 1; i <= n; i++ {
			items = append(items, strconv.Itoa(i))
		}
		return items, nil
	},
	"for-glob": func(arg string) ([]string, error) {
		items, err := filepath.Glob(arg)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 { // uWSGI globs with GLOB_NOCHECK
			items = []string{arg}
		}
		return items, nil
	},
	"for-readline": func(arg string) ([]string, error) {
		f, err := os.Open(arg)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		var items []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			items = append(items, sc.Text())
		}
		return items, sc.Err()
	},
}

// unsupportedBlocks are uWSGI logic keys supervise does not evaluate;
// reading past them would apply lines meant to be conditional.
var unsupportedBlocks = map[string]string{
	"else":                  "rewrite the block as an if-... and an if-not-... block",
	"if-reload":             "supervise reads the same file on start and on reload; remove the condition",
	"if-not-reload":         "supervise reads the same file on start and on reload; remove the condition",
	"if-plugin":             "supervise has no plugins (Python is built in); remove the condition",
	"if-not-plugin":         "supervise has no plugins (Python is built in); remove the condition",
	"if-hostname-match":     "use if-hostname with the exact name",
	"if-not-hostname-match": "use if-not-hostname with the exact name",
}

// uWSGI's other spellings of the same blocks.
func init() {
	for alias, name := range map[string]string{"ifenv": "if-env", "ifexists": "if-exists", "ifdir": "if-dir", "if-directory": "if-dir"} {
		ifBlocks[alias] = ifBlocks[name]
	}
	unsupportedBlocks["ifplugin"] = unsupportedBlocks["if-plugin"]
}

func isBlockEnd(key string) bool {
	switch key {
	case "endif", "endfor", "end", "end-if", "end-for":
		return true
	}
	return false
}

func isBlockStart(key string) bool {
	_, isIf := ifBlocks[key]
	_, isFor := forBlocks[key]
	return isIf || isFor
}

// readPairs reads a run of lines, descending into blocks.
func (l *loader) readPairs(path string, pairs []Pair, vars fileVars, underscore *string) error {
	for i := 0; i < len(pairs); i++ {
		p := pairs[i]
		where := fmt.Sprintf("%s:%d", path, p.Line)
		if isBlockEnd(p.Key) {
			return fmt.Errorf("%s: %s without an if-... or for-... before it", where, p.Key)
		}
		if !isBlockStart(p.Key) {
			if err := l.readPair(where, p, vars, underscore); err != nil {
				return err
			}
			continue
		}
		end, err := blockEnd(pairs, i)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		body := pairs[i+1 : end]
		arg, err := expandFiles(l.expandMagic(where, p.Value, vars))
		if err != nil {
			return fmt.Errorf("%s: %s = %s: %w", where, p.Key, p.Value, err)
		}
		if underscore != nil {
			arg = strings.ReplaceAll(arg, "%(_)", *underscore)
		}
		if test, ok := ifBlocks[p.Key]; ok {
			if yes, value := test(l, arg); yes {
				if err := l.readPairs(path, body, vars, &value); err != nil {
					return err
				}
			}
		} else {
			items, err := forBlocks[p.Key](arg)
			if err != nil {
				return fmt.Errorf("%s: %s = %s: %w", where, p.Key, p.Value, err)
			}
			for _, item := range items {
				if err := l.readPairs(path, body, vars, &item); err != nil {
					return err
				}
			}
		}
		i = end
	}
	return nil
}

// blockEnd finds the line that closes the block opened at pairs[open].
func blockEnd(pairs []Pair, open int) (int, error) {
	depth := 0
	for j := open + 1; j < len(pairs); j++ {
		switch {
		case isBlockStart(pairs[j].Key):
			depth++
		case isBlockEnd(pairs[j].Key) && depth == 0:
			return j, nil
		case isBlockEnd(pairs[j].Key):
			depth--
		}
	}
	return 0, fmt.Errorf("%s without an end (endif, endfor or end)", pairs[open].Key)
}

// envTest is if-env's test: VAR is set, or VAR=value matches.
func (l *loader) envTest(arg string) (bool, string) {
	name, want, compare := strings.Cut(arg, "=")
	v, set := l.lookupEnv(name)
	if !set || (compare && v != want) {
		return false, v
	}
	return true, v
}

// optTest is if-opt's test, against the keys read so far (unresolved, as
// in uWSGI).
func (l *loader) optTest(arg string) (bool, string) {
	name, want, compare := strings.Cut(arg, "=")
	v, set := l.exportedValue(name)
	if !set || (compare && v != want) {
		return false, v
	}
	return true, v
}

func isRegular(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
