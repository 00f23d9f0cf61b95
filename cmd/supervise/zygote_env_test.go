package main

import (
	"fmt"
	"strings"
	"testing"
)

// An app that sets a variable at import and answers, per worker, its
// environment as Python and as a child process see it.
const forkedEnvApp = `
import os, subprocess
os.environ["FROM_IMPORT"] = "yes"
def application(environ, start_response):
    child = dict(l.split("=", 1) for l in subprocess.run(["/usr/bin/env"], capture_output=True, text=True).stdout.splitlines() if "=" in l)
    body = " ".join("%s:%s/%s" % (k, os.environ.get(k, "-"), child.get(k, "-"))
                    for k in ("SUPERVISE_WORKER_ID", "EXTRA", "FROM_IMPORT", "SUPERVISE_ZYGOTE_FD")).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
`

// A forked worker's environment is the zygote's changed by what the
// master sent (its own id, no fork socket), in os.environ and in the C
// environment its children inherit; what the app's import set stays.
func TestForkedWorkerGetsItsOwnEnvironment(t *testing.T) {
	_, _, base := startModuleApp(t, "envapp", forkedEnvApp, 2, "--env", "EXTRA=e1")
	seen := map[string]bool{}
	for i := 0; i < 40 && len(seen) < 2; i++ {
		code, body := get(t, base+"/")
		if code != 200 {
			t.Fatalf("%d %q", code, body)
		}
		f := strings.Fields(body)
		id, _, _ := strings.Cut(strings.TrimPrefix(f[0], "SUPERVISE_WORKER_ID:"), "/")
		if want := fmt.Sprintf("SUPERVISE_WORKER_ID:%s/%s EXTRA:e1/e1 FROM_IMPORT:yes/yes SUPERVISE_ZYGOTE_FD:-/-", id, id); body != want || (id != "1" && id != "2") {
			t.Fatalf("a worker's environment: %q, want %q with its id 1 or 2", body, want)
		}
		seen[id] = true
	}
}
