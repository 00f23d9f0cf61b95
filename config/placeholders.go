package config

import "fmt"

// Every ini key, option or not, can be referenced as %(key), as in uWSGI;
// a key that is not an option is only a placeholder.

func (l *loader) setPlaceholder(key, value string) {
	if l.values == nil {
		l.values = map[string]string{}
		l.referenced = map[string]bool{}
	}
	l.values[key] = value
}

func (l *loader) placeholder(key string) string {
	if l.referenced != nil {
		l.referenced[key] = true
	}
	return l.values[key]
}

// checkPlaceholders warns about unknown keys that look like typos, or
// fails under strict.
func (l *loader) checkPlaceholders() {
	for _, p := range l.placeholders {
		if l.referenced[p.key] {
			continue
		}
		if l.cfg.Strict {
			l.strictErrs = append(l.strictErrs, fmt.Errorf("%s: %q is not an option (strict is set)%s", p.where, p.key, didYouMean(p.key)))
			continue
		}
		if s := suggest(p.key); s != "" {
			l.notice("placeholder:"+p.key, fmt.Sprintf("%s: %s: not an option; did you mean %s?", p.where, p.key, s))
		}
	}
}

func didYouMean(key string) string {
	if s := suggest(key); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}
