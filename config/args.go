package config

import (
	"fmt"
	"strings"
)

// applyArgs reads the command line left to right.
func (l *loader) applyArgs(args []string) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if len(args[i+1:]) > 0 {
				l.cfg.Exec = append([]string(nil), args[i+1:]...)
			}
			return nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if strings.HasSuffix(a, ".ini") || strings.Contains(a, ".ini:") {
				if err := l.loadINI(a); err != nil {
					return err
				}
				continue
			}
			return &UsageError{fmt.Sprintf("unexpected argument %q (options start with --; a program to run goes after --)", a)}
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		opt := lookup(name)
		if opt == nil {
			return &UsageError{unknownFlag(name)}
		}
		flag := false
		if !hasValue {
			next := ""
			if i+1 < len(args) {
				next = args[i+1]
			}
			switch {
			case opt.Kind == Bool || opt.Kind == Mode:
				value, flag = "true", true
				if takesAsValue(opt.Kind, next) {
					value, flag = next, false
					i++
				}
			case i+1 >= len(args):
				return &UsageError{fmt.Sprintf("option --%s needs a value", name)}
			default:
				value = next
				i++
			}
		}
		if opt.Name == "ini" {
			l.export(entry{key: name, value: value, where: "--" + name})
			if err := l.loadINI(value); err != nil {
				return err
			}
			continue
		}
		if err := l.set(name, value, "--"+name); err != nil {
			return &UsageError{err.Error()}
		}
		l.export(entry{key: name, value: value, where: "--" + name, flag: flag}) // %(name) in a later ini sees it
	}
	return nil
}

// takesAsValue says whether the word after a bare boolean or mode flag is
// its value ("--vacuum false", "--chmod-socket 660") or the next argument.
func takesAsValue(kind Kind, next string) bool {
	if next == "" || strings.HasPrefix(next, "-") {
		return false
	}
	if kind == Mode {
		return strings.Trim(next, "01234567") == ""
	}
	_, err := parseBool(next)
	return err == nil
}

func unknownFlag(name string) string {
	msg := fmt.Sprintf("unknown option --%s", name)
	if s := suggest(name); s != "" {
		msg += fmt.Sprintf(" (did you mean --%s?)", s)
	}
	return msg
}

// applyEnviron reads UWSGI_FOO_BAR and SUPERVISE_FOO_BAR as option
// foo-bar. Other variables with those prefixes (the worker contract's
// SUPERVISE_WORKER_ID, ...) are not options and are left alone.
func (l *loader) applyEnviron() {
	for _, kv := range l.environ {
		name, value, _ := strings.Cut(kv, "=")
		var opt string
		switch {
		case strings.HasPrefix(name, "UWSGI_"):
			opt = name[len("UWSGI_"):]
		case strings.HasPrefix(name, "SUPERVISE_"):
			opt = name[len("SUPERVISE_"):]
		default:
			continue
		}
		opt = strings.ToLower(strings.ReplaceAll(opt, "_", "-"))
		if o := lookup(opt); o == nil || len(opt) < 2 {
			continue
		}
		var err error
		if opt == "ini" {
			err = l.loadINI(value)
		} else if err = l.set(opt, value, name); err == nil {
			l.export(entry{key: opt, value: value, where: name})
		}
		if err != nil {
			l.cfg.Notices = append(l.cfg.Notices, fmt.Sprintf("environment %s ignored: %v", name, err))
		}
	}
}
