package ipc

// The async engines of the Python worker (worker/python/asgi.py and
// gevent_loop.py). With either, SUPERVISE_THREADS is the number of
// scoreboard cores: the connections (asgi) or requests (gevent) one worker
// serves at once.
const (
	// EnvPyASGI names the ASGI app, "module:attr" (attr defaults to app):
	// the worker serves it with an asyncio loop instead of WSGI threads.
	EnvPyASGI = "SUPERVISE_PY_ASGI"
	// EnvASGILoop is "asyncio" or "uvloop" (asgi-loop); empty: uvloop
	// when the interpreter has it.
	EnvASGILoop = "SUPERVISE_ASGI_LOOP"
	// EnvGevent is "1" when the worker's accept and request loop runs on
	// gevent (gevent = N; N is SUPERVISE_THREADS).
	EnvGevent = "SUPERVISE_GEVENT"
	// EnvGeventMonkey is "early" (gevent-early-monkey-patch: before the
	// app is imported) or "late" (gevent-monkey-patch: after it, before
	// serving, as uWSGI's gevent plugin does); empty: no patching.
	EnvGeventMonkey = "SUPERVISE_GEVENT_MONKEY"
)
