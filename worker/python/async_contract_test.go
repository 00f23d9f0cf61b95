package python_test

import (
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/ipc"
)

// The async engines (asgi.py, gevent_loop.py) and worker.py's hook that
// starts them read the names in ipc/async.go.
func TestAsyncEnginesMirrorTheContract(t *testing.T) {
	str := strconv.Quote
	for file, want := range map[string]map[string]string{
		"worker.py":      {"ENV_PY_ASGI": str(ipc.EnvPyASGI), "ENV_GEVENT": str(ipc.EnvGevent)},
		"asgi.py":        {"ENV_PY_ASGI": str(ipc.EnvPyASGI), "ENV_ASGI_LOOP": str(ipc.EnvASGILoop)},
		"gevent_loop.py": {"ENV_GEVENT_MONKEY": str(ipc.EnvGeventMonkey)},
	} {
		checkMirrors(t, file, want)
	}
}
