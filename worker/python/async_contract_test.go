package python_test

import (
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/ipc"
)

// The async engines (asgi.py, gevent_loop.py), worker.py's hook that
// starts them and uwsgi_websocket.py read the names in ipc/async.go and
// ipc/websocket.go.
func TestAsyncEnginesMirrorTheContract(t *testing.T) {
	str := strconv.Quote
	for file, want := range map[string]map[string]string{
		"worker.py":      {"ENV_PY_ASGI": str(ipc.EnvPyASGI), "ENV_GEVENT": str(ipc.EnvGevent)},
		"asgi.py":        {"ENV_PY_ASGI": str(ipc.EnvPyASGI), "ENV_ASGI_LOOP": str(ipc.EnvASGILoop), "ENV_WS_MAX_SIZE": str(ipc.EnvWSMaxSize)},
		"gevent_loop.py": {"ENV_GEVENT_MONKEY": str(ipc.EnvGeventMonkey)},
		"uwsgi_websocket.py": {"ENV_WS_PING_FREQ": str(ipc.EnvWSPingFreq), "ENV_WS_PONG_TOLERANCE": str(ipc.EnvWSPongTolerance),
			"ENV_WS_MAX_SIZE": str(ipc.EnvWSMaxSize)},
	} {
		checkMirrors(t, file, want)
	}
}
