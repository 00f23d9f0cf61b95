package python_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/worker/python"
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
		src := python.Source
		if file != python.FileName {
			var err error
			if src, err = os.ReadFile(file); err != nil {
				t.Fatal(err)
			}
		}
		values := pythonConstants(src, `([A-Z_, ]+?)`)
		for name, w := range want {
			if values[name] != w {
				t.Errorf("%s %s = %q, Go says %s", file, name, values[name], w)
			}
		}
	}
}
