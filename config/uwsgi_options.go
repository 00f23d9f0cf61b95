package config

import (
	"slices"
	"strings"
)

// Regenerate uwsgi_options_gen.go with Debian's uwsgi-core and
// uwsgi-plugin-python3 installed and uWSGI's sources at the same version
// (git clone -b 2.0.21 https://github.com/unbit/uwsgi $UWSGI_SRC):
//
//go:generate sh -c "go run ./internal/genuwsgi -uwsgi /usr/bin/uwsgi -src $UWSGI_SRC > uwsgi_options_gen.go.tmp && mv uwsgi_options_gen.go.tmp uwsgi_options_gen.go"

// uwsgiOption is one option of uWSGI 2.0.21 (uwsgi_options_gen.go lists
// them all, generated from the binary).
type uwsgiOption struct {
	name  string
	short string // one-letter flag, or ""
	arg   argKind
	core  bool // false: from the python3 or http plugin
	help  string
}

type argKind int

const (
	argNo       argKind = iota // a flag
	argRequired                // takes a value
	argOptional                // a value may follow
)

// mergeHandWritten resolves two hand-written entries for one name (an
// option made to work while the long tail still lists it as ignored, in
// either order): the working one wins; otherwise the first wins. The
// winner takes the loser's aliases. An alias already taken is dropped from the
// later entry. So no name is registered twice and no entry is silently
// shadowed by file order.
func mergeHandWritten(hand []Option) []Option {
	var out []Option
	at := map[string]int{} // name or alias -> index in out
	for _, o := range hand {
		if i, dup := at[o.Name]; dup {
			if o.Status != Works || out[i].Status == Works { // the first stays, and takes the free aliases
				for _, a := range o.Aliases {
					if _, taken := at[a]; !taken {
						out[i].Aliases = append(slices.Clip(out[i].Aliases), a)
						at[a] = i
					}
				}
				continue
			}
			old := out[i]
			o.Aliases = append([]string(nil), o.Aliases...)
			for _, a := range append([]string{old.Name}, old.Aliases...) {
				if a != o.Name && !slices.Contains(o.Aliases, a) {
					o.Aliases = append(o.Aliases, a)
				}
			}
			out[i] = o
			for _, a := range o.Aliases {
				at[a] = i
			}
			continue
		}
		var aliases []string
		for _, a := range o.Aliases {
			if _, taken := at[a]; !taken {
				aliases = append(aliases, a)
			}
		}
		o.Aliases = aliases
		at[o.Name] = len(out)
		for _, a := range aliases {
			at[a] = len(out)
		}
		out = append(out, o)
	}
	return out
}

// withUWSGIOptions adds to the hand-written table every uWSGI option it
// does not name (as a name or an alias), so no real option is ever taken
// for a placeholder or a typo. A hand-written entry always wins: writing
// one for a name simply replaces the generated entry, wherever it stands.
// uWSGI's logic keys (if-..., for-..., end...) are left to the ini reader.
func withUWSGIOptions(hand []Option) []Option {
	known := map[string]bool{}
	for _, o := range hand {
		known[o.Name] = true
		for _, a := range o.Aliases {
			known[a] = true
		}
	}
	out := mergeHandWritten(hand)
	for _, u := range uwsgiOptions {
		if known[u.name] || isLogicKey(u.name) {
			continue
		}
		out = append(out, generatedOption(u))
	}
	return out
}

// isLogicKey: uWSGI's configuration logic, which the ini reader handles
// (blocks.go) before any option is applied.
func isLogicKey(name string) bool {
	_, unsupported := unsupportedBlocks[name]
	return isBlockStart(name) || isBlockEnd(name) || unsupported
}

// generatedOption is the entry for a uWSGI option nobody wrote one for:
// ignored with a notice that says it has no effect and what it does in
// uWSGI, or refused where going on without it would be wrong.
func generatedOption(u uwsgiOption) Option {
	kind := String
	if u.arg != argRequired {
		kind = Bool
	}
	if why := generatedRefusal(u); why != "" {
		return refused(u.name, nil, kind, why)
	}
	o := differs(u.name, nil, kind, "has no effect in supervise (uWSGI: "+u.help+")")
	if hasAnyPrefix(u.name, "route-", "error-route-", "final-route-", "response-route-") && !strings.HasSuffix(u.name, "-label") {
		o.Help, o.apply = routeHelp, checkRoute(!strings.HasSuffix(u.name, "-run"))
	}
	return o
}

// generatedRefusal says why a uWSGI option cannot be ignored, or "".
func generatedRefusal(u uwsgiOption) string {
	n := u.name
	switch {
	case strings.HasSuffix(n, "-socket") && strings.HasPrefix(u.help, "bind to the specified"):
		return socketRefusal
	case hasAnyPrefix(n, "call-", "hook-", "exec-", "mount-", "umount-") || n == "worker-exec" || n == "worker-exec2" || n == "worker-mount":
		return hookRefusal
	case n == "config" || n == "include" || n == "xmlconfig" || n == "inherit":
		return "supervise reads ini files only; include an ini with ini = FILE, or write the options here"
	case n == "paste" || n == "ini-paste" || n == "ini-paste-logged" || n == "pecan" || n == "eval" || n == "pyrun" || n == "pyshell" || n == "pyshell-oneshot" || n == "web3" || n == "wsgi-lite":
		return "supervise loads a WSGI app only from module, wsgi-file or mount; running without the app this names would serve nothing; point module at the app (for paste.deploy: a module that calls paste.deploy.loadapp)"
	case n == "enable-proxy-protocol" || n == "http-enable-proxy-protocol":
		return "supervise does not read the PROXY protocol header, so every connection from a proxy that sends it would be a malformed request; turn the PROXY protocol off in the load balancer, or terminate it in nginx (listen ... proxy_protocol) and pass the address with uwsgi_param/proxy_set_header"
	}
	return ""
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
