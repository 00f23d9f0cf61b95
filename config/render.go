package config

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// Render writes the effective settings that differ from the defaults, in
// ini form, one `name = value` line per setting (a list gives one line per
// item), in the order of the Config fields: what `supervise check` prints
// after every expansion. Notices, the files read and Opt (the keys as read,
// for uwsgi.opt) are not settings and
// are left to the caller.
func Render(c *Config) string {
	var b strings.Builder
	for _, s := range Settings(c) {
		fmt.Fprintf(&b, "%s = %s\n", s.Name, s.Value)
	}
	return b.String()
}

// Setting is one `name = value` line of the effective settings: the
// option's uWSGI name and its value as an ini writes it (seconds, octal
// modes); a list option has one Setting per item.
type Setting struct{ Name, Value string }

// Settings are the effective settings that differ from the defaults, in
// the order of the Config fields (Render prints them).
func Settings(c *Config) []Setting {
	var b strings.Builder
	renderFields(&b, c, reflect.ValueOf(c).Elem(), reflect.ValueOf(defaults()).Elem())
	var out []Setting
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if name, value, ok := strings.Cut(line, " = "); ok {
			out = append(out, Setting{Name: name, Value: value})
		}
	}
	return out
}

// INI is the effective settings as a loadable ini file: a [uwsgi] section
// of Render's lines, with the files read and the notices as comments
// (what `supervise check --ini-out` prints, like uwsgi --show-config).
func INI(c *Config) string {
	var b strings.Builder
	b.WriteString(";supervise instance configuration (effective settings, defaults left out)\n")
	for _, f := range c.Files {
		b.WriteString(";read from " + f + "\n")
	}
	for _, n := range c.Notices {
		b.WriteString(";notice: " + strings.ReplaceAll(n, "\n", " ") + "\n")
	}
	b.WriteString("[uwsgi]\n")
	b.WriteString(Render(c))
	b.WriteString(";end of configuration\n")
	return b.String()
}

// renderFields renders one struct's fields; embedded groups of settings
// (Policies, Router) are rendered field by field.
func renderFields(b *strings.Builder, c *Config, v, def reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Name == "Notices" || f.Name == "Files" || f.Name == "Opt" || f.Name == "Magic" {
			continue
		}
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			renderFields(b, c, v.Field(i), def.Field(i))
			continue
		}
		if reflect.DeepEqual(v.Field(i).Interface(), def.Field(i).Interface()) {
			continue
		}
		name := optionName(f.Name)
		fv := v.Field(i)
		switch {
		case f.Name == "Sockets":
			for _, s := range c.Sockets {
				fmt.Fprintln(b, renderSocket(s))
			}
		case f.Name == "Mounts":
			for _, m := range c.Mounts {
				fmt.Fprintf(b, "mount = %s\n", m)
			}
		case f.Name == "Static":
			for _, line := range c.Static {
				option, value, _ := strings.Cut(line, " ")
				if option != "static-map" && option != "static-safe" { // rendered from Router
					fmt.Fprintf(b, "%s = %s\n", option, value)
				}
			}
		case f.Name == "Exec":
			if len(c.Exec) > 0 {
				fmt.Fprintf(b, "%s = %s\n", name, joinCommand(c.Exec))
			}
		case fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() != reflect.Uint8:
			for j := 0; j < fv.Len(); j++ {
				fmt.Fprintf(b, "%s = %s\n", name, renderValue(fv.Index(j)))
			}
		default:
			fmt.Fprintf(b, "%s = %s\n", name, renderValue(fv))
		}
	}
}

func renderSocket(s Socket) string {
	switch s.Proto {
	case "uwsgi":
		return "socket = " + s.Addr
	case ProtoHTTPRouter:
		return "http = " + s.Addr
	case ProtoHTTPSRouter:
		return "https = " + s.Addr + "," + s.Cert + "," + s.Key
	}
	return s.Proto + "-socket = " + s.Addr
}

func renderValue(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		if x%time.Second == 0 {
			return fmt.Sprint(int64(x / time.Second))
		}
		return x.String()
	case os.FileMode:
		return fmt.Sprintf("%o", uint32(x.Perm()))
	case fmt.Stringer:
		return x.String()
	}
	if v.Kind() == reflect.Struct || v.Kind() == reflect.Pointer {
		return fmt.Sprintf("%+v", v.Interface())
	}
	return fmt.Sprint(v.Interface())
}

// optionName turns a Config field name into its option's name:
// WorkerReloadMercy -> worker-reload-mercy, StatsHTTP -> stats-http,
// PythonPath -> pythonpath (the option's spelling, when one matches).
func optionName(field string) string {
	var b strings.Builder
	r := []rune(field)
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) && (unicode.IsLower(r[i-1]) || (i+1 < len(r) && unicode.IsLower(r[i+1]))) {
			b.WriteByte('-')
		}
		b.WriteRune(unicode.ToLower(c))
	}
	name := b.String()
	if o := lookup(name); o != nil {
		return o.Name
	}
	if o := lookup(strings.ReplaceAll(name, "-", "")); o != nil {
		return o.Name
	}
	return name
}

func joinCommand(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'"'"'`) + "'"
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}
