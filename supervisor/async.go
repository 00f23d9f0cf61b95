package supervisor

import (
	"strconv"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
)

// asyncEnv tells a Python worker which engine serves its app: asgi.py's
// asyncio loop or gevent_loop.py, and its WebSocket settings
// (docs/contract.md).
func asyncEnv(cfg *config.Config) []string {
	a := cfg.AsyncEngines
	var env []string
	if a.ASGI != "" {
		env = append(env, ipc.EnvPyASGI+"="+a.ASGI)
		if a.ASGILoop != "" {
			env = append(env, ipc.EnvASGILoop+"="+a.ASGILoop)
		}
	}
	if a.Gevent > 0 {
		env = append(env, ipc.EnvGevent+"=1")
		if a.GeventEarlyMonkeyPatch {
			env = append(env, ipc.EnvGeventMonkey+"=early")
		} else if a.GeventMonkeyPatch {
			env = append(env, ipc.EnvGeventMonkey+"=late")
		}
	}
	w := cfg.WebSockets
	for _, s := range []struct {
		name string
		v    int
	}{{ipc.EnvWSPingFreq, w.WebSocketPingFreq}, {ipc.EnvWSPongTolerance, w.WebSocketPongTolerance}, {ipc.EnvWSMaxSize, w.WebSocketMaxSize * 1024}} {
		if s.v > 0 {
			env = append(env, s.name+"="+strconv.Itoa(s.v))
		}
	}
	return env
}
