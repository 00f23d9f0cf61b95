package config

import (
	"fmt"
	"strings"
)

// OptionsMarkdown renders the options table of docs/options.md; a test
// keeps the file equal to it, so the doc cannot drift from the code.
func OptionsMarkdown() string {
	var b strings.Builder
	b.WriteString("# Options\n\n")
	b.WriteString("Generated from `config/options.go` (`UPDATE_DOCS=1 go test ./config/` rewrites it).\n")
	b.WriteString("Every option works in an ini `[uwsgi]` section (`name = value`), on the command line\n")
	b.WriteString("(`--name value`, `--name=value`, bare `--flag` for booleans) and in the environment\n")
	b.WriteString("(`UWSGI_NAME` or `SUPERVISE_NAME`, dashes as underscores).\n\n")
	b.WriteString("Status: **works** means it does what uWSGI's option does (or what the note says);\n")
	b.WriteString("**ignored** means it is accepted, has no effect, and the master logs a one-line notice\n")
	b.WriteString("saying what happens instead, so existing ini files start. Unknown ini keys are\n")
	b.WriteString("placeholders as in uWSGI (`%(name)` expands them); one that is never used and looks\n")
	b.WriteString("like a typo of an option gets a notice, and with `strict` it is an error.\n\n")
	b.WriteString("| option | aliases | kind | default | status | meaning |\n|---|---|---|---|---|---|\n")
	for _, o := range Options() {
		aliases := strings.Join(o.Aliases, ", ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", o.Name, aliases, o.Kind, o.Default, o.Status,
			strings.ReplaceAll(o.Help, "|", "\\|"))
	}
	return b.String()
}
