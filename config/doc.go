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
	b.WriteString("Status: **works** means it does what uWSGI's option does (or what the note says).\n")
	b.WriteString("**ignored** means it is accepted with a one-line notice at start (and in `supervise check`)\n")
	b.WriteString("that says whether behaviour differs: *harmless* when it changes nothing that matters\n")
	b.WriteString("here, *differs* with what happens instead. **refused** means supervise cannot honour it\n")
	b.WriteString("and going on without it would be wrong (a guard dropped, commands never run, a socket\n")
	b.WriteString("nobody answers): the configuration is an error, with the message in the table.\n")
	b.WriteString("Every option uWSGI 2.0.21 has (core, python3 and http plugins) is in the table: those\n")
	b.WriteString("supervise has no entry of its own for are generated from the uwsgi binary\n")
	b.WriteString("(`config/uwsgi_options_gen.go`) and ignored with a notice quoting what they do in uWSGI,\n")
	b.WriteString("or refused where going on without them would be wrong. An option of another uWSGI\n")
	b.WriteString("plugin (php, gevent, rack, ...) is named as such in its notice, never taken for a typo.\n")
	b.WriteString("Other names are unknown: on the\n")
	b.WriteString("command line an error, in an ini a placeholder (below).\n\n")
	b.WriteString("## The ini dialect\n\n")
	b.WriteString("As uWSGI reads it (checked against uWSGI 2.0.21; `supervise check --ini FILE` prints the\n")
	b.WriteString("result of every expansion):\n\n")
	b.WriteString("- `[uwsgi]` section, or `FILE:section`; `;` and `#` start comment lines; a comment after a\n")
	b.WriteString("  value is part of the value (a notice says so); a bare key means true; a repeated key\n")
	b.WriteString("  appends for list options, the last wins otherwise.\n")
	b.WriteString("- Magic variables, expanded as the line is read: `%d` directory of the file (with `/`),\n")
	b.WriteString("  `%n` name without extension, `%p` absolute path, `%s` file name, `%e` extension, `%c`\n")
	b.WriteString("  directory name, `%o` path as given, `%0`..`%9` directory components, `%k` CPU count,\n")
	b.WriteString("  `%v` working directory, `%h` hostname, `%u`/`%U` uid/user, `%g`/`%G` gid/group; upper\n")
	b.WriteString("  case `%D %N %P %C %E %S %O` name the first file read; `%%` is `%`. `$(VAR)` is the\n")
	b.WriteString("  environment variable (left as written if unset, with a notice). `@(FILE)` is the file's\n")
	b.WriteString("  content less one trailing newline (a relative FILE is relative to the working directory,\n")
	b.WriteString("  as in uWSGI); `@(exec://...)` and other schemes are refused.\n")
	b.WriteString("- Placeholders: every key, option or not, is `%(key)`, resolved once the outermost file\n")
	b.WriteString("  is read, so it may be defined below its use; the first definition wins; `%(missing)`\n")
	b.WriteString("  stays as written. With spaces it is arithmetic, left to right on 64-bit integers:\n")
	b.WriteString("  `%(%k * 2)`, `%(processes + 1)`, `%(a - b)`, `%(a / 2)` (division by zero gives 0),\n")
	b.WriteString("  `%(a ++)`; text reads as its leading digits or 0; tokens without an operator between\n")
	b.WriteString("  them are concatenated (`%(a b)`). Parentheses do not group, as in uWSGI: inside\n")
	b.WriteString("  `%(...)` they only nest, so `%((%k * 2) + 1)` has the tokens `(4`, `*`, `2)`, `+`, `1`,\n")
	b.WriteString("  where `(4` and `2)` are keys, and gives 1 under both (with a notice); write `%(%k * 2 + 1)`.\n")
	b.WriteString("- A number option given `true`, `on` or `yes` reads 0, as uWSGI's number parsing does\n")
	b.WriteString("  (`cheaper = true` leaves cheaper off), with a notice; `buffer-size` above 65535 reads\n")
	b.WriteString("  65535, uWSGI's largest. `protocol = http` (or `http11`) makes `socket` lines HTTP sockets;\n")
	b.WriteString("  `uwsgi-socket` stays uwsgi; `http11-socket` is `http-socket`.\n")
	b.WriteString("- `ini = other.ini`, `ini = %dbase.ini`, `ini = :section` (another section of this file).\n")
	b.WriteString("- Blocks, closed by `endif`, `endfor`, `end`, `end-if` or `end-for`; `%(_)` inside is the\n")
	b.WriteString("  value found or the item: `if-env = VAR` (or `VAR=value`), `if-not-env`, `if-exists`,\n")
	b.WriteString("  `if-file`, `if-dir`, `if-opt`, `if-hostname` and their `if-not-` forms; `for = a b c`,\n")
	b.WriteString("  `for-times = N`, `for-glob = PATTERN`, `for-readline = FILE`. `else`, `if-reload` and\n")
	b.WriteString("  `if-plugin` are errors (supervise does not evaluate them).\n")
	b.WriteString("- Unknown keys are placeholders; one never referenced that looks like a typo of an option\n")
	b.WriteString("  gets a notice (`vacum: not an option; did you mean vacuum?`), as does a pasted nginx\n")
	b.WriteString("  directive; with `strict` an unreferenced unknown key is an error. `set-placeholder = K=V`\n")
	b.WriteString("  declares a placeholder, `set = K=V` sets an option or a placeholder, `print = TEXT` logs\n")
	b.WriteString("  TEXT (expanded) as a notice.\n\n")
	b.WriteString(tasksMarkdown) // config/tasks_doc.go
	b.WriteString("## Options\n\n")
	b.WriteString("| option | aliases | kind | default | status | meaning |\n|---|---|---|---|---|---|\n")
	for _, o := range Options() {
		aliases := strings.Join(o.Aliases, ", ")
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", o.Name, aliases, o.Kind, o.Default, o.Status,
			strings.ReplaceAll(o.Help, "|", "\\|"))
	}
	return b.String()
}
