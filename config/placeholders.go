package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Every key read, option or not, can be referenced as %(key), as in
// uWSGI; a key that is not an option is only a placeholder.

// entry is one key = value line read, in order.
type entry struct {
	key, value, where string
	placeholderOnly   bool // set-placeholder: never an option
	comment           bool // the line as written has a trailing # or ; comment
	flag              bool // a command-line flag given without a value (uwsgi.opt shows True)
}

// export records a line read; the first definition of a key is the one
// %(key) sees (uWSGI looks keys up from the start of its list).
func (l *loader) export(e entry) {
	if _, ok := l.first[e.key]; !ok {
		l.first[e.key] = len(l.exported)
	}
	l.exported = append(l.exported, e)
}

func (l *loader) exportedValue(key string) (string, bool) {
	i, ok := l.first[key]
	if !ok {
		return "", false
	}
	return l.exported[i].value, true
}

// maxExpansions bounds the substitutions in one value, so a placeholder
// that refers to itself is an error (uWSGI runs out of memory).
const maxExpansions = 1000

// maxValue bounds the length of a value as placeholders expand it.
const maxValue = 64 << 10

// resolve replaces every %(...) in v as uWSGI's placeholder pass does
// (uwsgi_apply_config_pass in 2.0.21): scanning left to right, a "%"
// restarts the match, "%(" opens a key, parentheses inside it nest, and
// the ")" that balances the opening one closes it; so %((a * 2) + 1) is
// the pipeline "(a * 2) + 1", whose tokens "(a" and "2)" are keys (empty
// when undefined), as in uWSGI. %() and a %(name) with no such key stay
// as written. After each substitution the scan starts again at the
// second character of the value (uWSGI's loop resets j to 0 and then
// increments it), so a value that begins with a placeholder produced by
// another stays as it is until a later value refers to it.
func (l *loader) resolve(v string) (string, error) {
	n := 0
	state, depth, key := 0, 0, 0 // state: 0 nothing, 1 after %, >=2 inside %( (uWSGI's has_symbol)
	for j := 0; j < len(v); j++ {
		c := v[j]
		switch {
		case c == '%':
			state = 1
		case c == '(' && state == 1:
			state, depth, key = 2, 0, j+1
		case state > 1 && c == '(':
			state++
			depth++
		case state > 1 && c == ')':
			if depth > 0 {
				state++
				depth--
				continue
			}
			if state <= 2 { // %()
				state = 0
				continue
			}
			val, ok := l.evalPlaceholder(v[key:j])
			state = 0
			if !ok {
				continue
			}
			if n++; n > maxExpansions || len(v) > maxValue {
				return "", fmt.Errorf("placeholders expand without end (does %s refer to itself?)", v[key-2:j+1])
			}
			v = v[:key-2] + val + v[j+1:]
			j = 0
		case state > 1:
			state++
		default:
			state = 0
		}
	}
	return v, nil
}

// evalPlaceholder is uWSGI's %(...): a bare key is looked up; with spaces
// it is a pipeline, left to right, of space-separated tokens: a number
// (digits only) or a key's value is concatenated to the result, unless an
// operator (+ - * /) came before it, which then applies to the result and
// the token as 64-bit integers (text reads as its leading digits, or 0;
// division by zero gives 0); ++ and -- add or subtract 1. A key that does
// not exist reads as empty. So with processes = 2, %(processes * 4) is 8,
// %(processes 0) is 20 and %(%k + 1) is one more than the CPU count.
func (l *loader) evalPlaceholder(expr string) (string, bool) {
	if !strings.Contains(expr, " ") {
		l.referenced[expr] = true
		return l.exportedValue(expr)
	}
	var cur *string
	op := ""
	if strings.ContainsAny(expr, "()") {
		l.notice("parens:"+expr, fmt.Sprintf("%%(%s): parentheses do not group in uWSGI's placeholder arithmetic: tokens such as \"(x\" and \"x)\" are read as (usually undefined, so empty or 0) keys, and supervise reads them as uWSGI 2.0.21 does; write the expression left to right without parentheses, e.g. %%(%%k * 2 + 1)", expr))
	}
	for _, tok := range strings.Split(expr, " ") {
		var value string
		switch tok {
		case "":
			continue
		case "+", "-", "*", "/":
			op = tok
			continue
		case "++", "--":
			if cur != nil {
				n := leadingInt(*cur) + 1
				if tok == "--" {
					n = leadingInt(*cur) - 1
				}
				s := strconv.FormatInt(n, 10)
				cur = &s
			}
			op = ""
			continue
		}
		if strings.Trim(tok, "0123456789") == "" {
			value = tok
		} else {
			l.referenced[tok] = true
			value, _ = l.exportedValue(tok)
		}
		var result string
		if op == "" {
			if cur != nil {
				result = *cur
			}
			result += value
		} else {
			var a int64
			if cur != nil {
				a = leadingInt(*cur)
			}
			result = strconv.FormatInt(arith(op, a, leadingInt(value)), 10)
		}
		cur, op = &result, ""
	}
	if cur == nil {
		return "", false
	}
	return *cur, true
}

func arith(op string, a, b int64) int64 {
	switch op {
	case "+":
		return a + b
	case "-":
		return a - b
	case "*":
		return a * b
	}
	if b == 0 {
		return 0
	}
	if a == math.MinInt64 && b == -1 { // C leaves it undefined; Go panics
		return a
	}
	return a / b
}

// leadingInt reads a number as C's strtoll does: leading spaces, a sign,
// the digits up to the first other character (0 if none); out of range
// saturates.
func leadingInt(s string) int64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j == i {
		return 0
	}
	n, err := strconv.ParseInt(s[:j], 10, 64)
	if err != nil { // out of range: ParseInt returns the saturated value
		return n
	}
	return n
}

// checkPlaceholders warns about unknown keys that look like typos, or
// fails under strict.
func (l *loader) checkPlaceholders() {
	for _, p := range l.placeholders {
		if l.referenced[p.key] {
			continue
		}
		plugin, ofPlugin := uwsgiPluginOptions[p.key]
		switch {
		case l.cfg.Strict && ofPlugin:
			l.strictErrs = append(l.strictErrs, fmt.Errorf("%s: %q is an option of uWSGI's %s plugin, which supervise does not have (strict is set); remove it", p.where, p.key, plugin))
			continue
		case l.cfg.Strict:
			l.strictErrs = append(l.strictErrs, fmt.Errorf("%s: %q is not an option (strict is set)%s", p.where, p.key, didYouMean(p.key)))
			continue
		case ofPlugin: // never "did you mean" another option for a real one
			l.notice("placeholder:"+p.key, fmt.Sprintf("%s: %s: an option of uWSGI's %s plugin, which supervise does not have; it does nothing here", p.where, p.key, plugin))
			continue
		}
		if s := suggest(p.key); s != "" {
			l.notice("placeholder:"+p.key, fmt.Sprintf("%s: %s: not an option; did you mean %s?", p.where, p.key, s))
		} else if strings.ContainsAny(p.key, " ;{}") {
			l.notice("placeholder:"+p.key, fmt.Sprintf("%s: %s: not an option (it looks like an nginx directive); it does nothing here", p.where, p.key))
		}
	}
}

func didYouMean(key string) string {
	if s := suggest(key); s != "" {
		return "; did you mean " + s + "?"
	}
	return ""
}
