package signals

import (
	"strconv"
	"strings"

	"github.com/supervise-go/supervise/ipc"
)

// Mode is how many processes of a role a target reaches.
type Mode int

const (
	Any Mode = iota // one of them (round robin): "worker", "mule", "spooler"
	All             // each: "workers", "mules", "spoolers"
	One             // the one with id N: "workerN", "muleN"
)

// Rule is a parsed target.
type Rule struct {
	Role string
	Mode Mode
	N    int
}

// Role is what the hub says when a role's processes cannot be reached
// (uWSGI's lines; %d is the signal, then the id).
type Role struct {
	AnyFail, OneFail string
}

// Roles is keyed by the role a process names in its hello. A role that
// runs processes (mules, spoolers) plugs in here and in targets; when
// none of its processes is connected, a signal for it is logged as
// undeliverable, as uWSGI logs it when it has none.
var Roles = map[string]Role{
	ipc.RoleWorker:  {AnyFail: "could not deliver signal %d to workers pool", OneFail: "could not deliver signal %d to worker %d"},
	ipc.RoleMule:    {AnyFail: "could not deliver signal %d to a mule", OneFail: "could not deliver signal %d to mule %d"},
	ipc.RoleSpooler: {AnyFail: "could not deliver signal %d to the spooler", OneFail: "could not deliver signal %d to spooler %d"},
}

// targets are uWSGI's target names; prefixed are "NAMEn" forms.
var (
	targets = map[string]Rule{
		"":               {Role: ipc.RoleWorker, Mode: Any},
		"worker":         {Role: ipc.RoleWorker, Mode: Any},
		"worker0":        {Role: ipc.RoleWorker, Mode: Any},
		"workers":        {Role: ipc.RoleWorker, Mode: All},
		"active-workers": {Role: ipc.RoleWorker, Mode: All}, // cheaped workers are stopped processes here
		"mule":           {Role: ipc.RoleMule, Mode: Any},
		"mule0":          {Role: ipc.RoleMule, Mode: Any},
		"mules":          {Role: ipc.RoleMule, Mode: All},
		"spooler":        {Role: ipc.RoleSpooler, Mode: Any},
		"spoolers":       {Role: ipc.RoleSpooler, Mode: All},
	}
	prefixed = []string{ipc.RoleWorker, ipc.RoleMule}
)

// ParseTarget resolves a target name; ok is false for one uWSGI does
// not know (it logs "UNSUPPORTED SIGNAL TARGET" when routing).
func ParseTarget(t string) (Rule, bool) {
	if r, ok := targets[t]; ok {
		return r, true
	}
	for _, role := range prefixed {
		if rest, ok := strings.CutPrefix(t, role); ok {
			n, err := strconv.Atoi(rest) // uWSGI's atoi: "worker2x" would be 2; we are stricter
			if err == nil && n > 0 {
				return Rule{Role: role, Mode: One, N: n}, true
			}
		}
	}
	return Rule{}, false
}
