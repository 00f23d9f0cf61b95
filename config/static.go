package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Static is what the workers serve before the app (uWSGI's static-map,
// static-map2, check-static, static-index, static-safe, static-gzip-all),
// one "OPTION VALUE" line each, in the order given: the worker contract's
// SUPERVISE_STATIC (docs/contract.md).
type Static []string

func addStatic(option string) func(*loader, string) error {
	return func(l *loader, v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			return fmt.Errorf("empty value")
		}
		if strings.Contains(v, "\n") {
			return fmt.Errorf("a value cannot span lines")
		}
		switch option {
		case "static-expires", "static-expires-mtime", "static-expires-uri", "static-expires-uri-mtime",
			"static-expires-path-info", "static-expires-path-info-mtime":
			i := strings.LastIndexAny(v, " \t")
			if i < 0 || !isSeconds(v[i+1:]) {
				return fmt.Errorf("write %s = REGEX SECONDS", option)
			}
		case "static-expires-type", "static-expires-type-mtime":
			if typ, n, ok := strings.Cut(v, "="); !ok || typ == "" || !isSeconds(n) {
				return fmt.Errorf("write %s = TYPE=SECONDS (text/css=86400)", option)
			}
		case "static-map2":
			if url, dir, ok := strings.Cut(v, "="); !ok || !strings.HasPrefix(url, "/") || dir == "" {
				return fmt.Errorf("write %s = /URL=DIR", option)
			}
		case "static-safe":
			l.cfg.Router.StaticSafe = append(l.cfg.Router.StaticSafe, v)
		}
		l.cfg.Static = append(l.cfg.Static, option+" "+v)
		return nil
	}
}

func isSeconds(s string) bool {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return err == nil && n >= 0
}

func setStaticGzipAll(l *loader, v string) error {
	b, err := parseBool(v)
	if err == nil && b {
		l.cfg.Static = append(l.cfg.Static, "static-gzip-all 1")
	}
	return err
}

// addMount reads mount = /PREFIX=APP. uWSGI loads APP as a file when it
// ends in .py or .wsgi, else as module:callable.
func addMount(l *loader, v string) error {
	prefix, app, ok := strings.Cut(strings.TrimSpace(v), "=")
	prefix, app = strings.TrimSpace(prefix), strings.TrimSpace(app)
	if !ok || app == "" || strings.Contains(v, "\n") {
		return fmt.Errorf("write mount = /PREFIX=app.py or /PREFIX=module:callable")
	}
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("mount point %q: start it with / (mount = /PREFIX=APP)", prefix)
	}
	l.cfg.Mounts = append(l.cfg.Mounts, strings.TrimRight(prefix, "/")+"="+app)
	return nil
}
