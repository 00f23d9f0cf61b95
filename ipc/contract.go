// Package ipc is the contract between the supervise master and its
// workers: which file descriptors a worker inherits, which environment
// variables describe them, and how a worker reports readiness.
//
// The Go worker library and the master both read these names from here;
// the embedded Python worker (worker/python/worker.py) mirrors them and
// a test checks that the two agree.
package ipc

// Listening sockets are passed the way systemd socket activation passes
// them, so any program that understands sd_listen_fds can be a worker.
const (
	// FirstListenFD is the first inherited listening socket; the rest follow
	// in config order.
	FirstListenFD = 3
	// EnvListenFDs holds how many listening sockets start at FirstListenFD.
	EnvListenFDs = "LISTEN_FDS"
	// EnvListenFDNames holds the protocol of each socket, colon separated:
	// ProtoUwsgi or ProtoHTTP.
	EnvListenFDNames = "LISTEN_FDNAMES"
	// EnvListenPID is the pid the sockets are meant for (systemd's rule).
	EnvListenPID = "LISTEN_PID"
	// EnvNotifySocket is the path of the master's unixgram notify socket;
	// workers send "READY=1" there, as with systemd's sd_notify.
	EnvNotifySocket = "NOTIFY_SOCKET"
)

// Socket protocols, as they appear in LISTEN_FDNAMES.
const (
	ProtoUwsgi = "uwsgi"
	ProtoHTTP  = "http"
)

// Worker identity and settings.
const (
	// EnvWorkerID is the worker's slot, 1..processes, stable across respawns.
	EnvWorkerID = "SUPERVISE_WORKER_ID"
	// EnvGeneration counts reloads; the first generation is 1.
	EnvGeneration = "SUPERVISE_GENERATION"
	// EnvThreads is how many requests one worker serves at once.
	EnvThreads = "SUPERVISE_THREADS"
	// EnvLifelineFD is an inherited pipe's read end. It reads EOF when the
	// master is gone, however it died; the worker then exits.
	EnvLifelineFD = "SUPERVISE_LIFELINE_FD"
	// EnvMasterPID is the master's pid, for logs.
	EnvMasterPID = "SUPERVISE_MASTER_PID"
	// EnvBufferSize is the largest uwsgi vars block accepted (buffer-size).
	EnvBufferSize = "SUPERVISE_BUFFER_SIZE"
	// EnvDisableLogging is "1" when per-request log lines are off.
	EnvDisableLogging = "SUPERVISE_DISABLE_LOGGING"
	// EnvSocketTimeoutMS is socket-timeout in milliseconds: the longest a
	// worker waits for the next byte of a request's head or body (or for
	// the client to take response bytes) before it closes the connection
	// and counts a read error. "0" turns it off; unset means
	// DefaultSocketTimeoutMS (uWSGI's 4 s).
	EnvSocketTimeoutMS     = "SUPERVISE_SOCKET_TIMEOUT_MS"
	DefaultSocketTimeoutMS = 4000
	// EnvMaxVars is max-vars: a uwsgi request may carry 2 x this many vars
	// (uWSGI's count: two iovec entries per var out of 4 x max-vars).
	EnvMaxVars = "SUPERVISE_MAX_VARS"
	// EnvNeedApp is "1" with need-app: a worker whose app fails to load
	// exits ExitAppLoadFailed. Without it the worker stays up, answers
	// every request 500 and notifies NotifyNoApp.
	EnvNeedApp = "SUPERVISE_NEED_APP"
	// EnvLogFormat is log-format: request lines in uWSGI's format language.
	EnvLogFormat = "SUPERVISE_LOG_FORMAT"
	// EnvLogStrftime is the strftime format %(ftime) uses (log-date's
	// value with logformat-strftime); unset, %(ftime) is %(ltime).
	EnvLogStrftime = "SUPERVISE_LOG_STRFTIME"
	// EnvLogOnly, with EnvDisableLogging, is the requests still logged:
	// comma-separated 4xx, 5xx, zero, slow=MS, big=BYTES, sendfile, ioerror
	// (config.LogOnly; the Go side reads the first five).
	EnvLogOnly = "SUPERVISE_LOG_ONLY"
	// EnvLogJSON is "1" when every log line is one JSON object
	// (log-encoder = json).
	EnvLogJSON = "SUPERVISE_LOG_JSON"
	// EnvLogXFF is "1" for log-x-forwarded-for: request lines show the
	// X-Forwarded-For header instead of REMOTE_ADDR when there is one.
	EnvLogXFF = "SUPERVISE_LOG_X_FORWARDED_FOR"
)

// ExitListenerGone is the exit code of a worker whose listening socket was
// closed under it (the app closed fd 3): it cannot accept, so it exits and
// the master starts a replacement.
const ExitListenerGone = 1

// What the Python worker's uwsgi module needs (worker/python/uwsgi_api.py).
const (
	// EnvUwsgiOpt is uwsgi.opt: a JSON array of [key, value] pairs in the
	// order read, value null for a command-line flag given without one.
	EnvUwsgiOpt = "SUPERVISE_UWSGI_OPT"
	// EnvMagicTable is uwsgi.magic_table: a JSON object, letter -> value.
	EnvMagicTable = "SUPERVISE_MAGIC_TABLE"
	// EnvProcesses is uwsgi.numproc: the configured processes.
	EnvProcesses = "SUPERVISE_PROCESSES"
	// EnvStartedOn is uwsgi.started_on: when the master started (unix s).
	EnvStartedOn = "SUPERVISE_STARTED_ON"
	// EnvLocksFD is a memfd the master creates (empty) before any worker
	// and keeps: the Python worker lays uwsgi.lock's process-shared robust
	// pthread mutexes in it (docs/contract.md has the layout), so a lock
	// is shared by every worker, survives reloads and is recovered when
	// its holder dies. EnvLocks is the highest lock index (locks = N).
	EnvLocksFD = "SUPERVISE_LOCKS_FD"
	EnvLocks   = "SUPERVISE_LOCKS"
)

// NotifyCommand is a notify field a worker sends to run one master FIFO
// command (uwsgi.reload: r, uwsgi.chain_reload: c, uwsgi.stop: q); the
// master takes it only from a ready worker of the current generation.
const NotifyCommand = "SUPERVISE_COMMAND"

// WorkerCommands are the FIFO letters a worker may send as NotifyCommand.
const WorkerCommands = "rcq"

// The Python worker's application settings.
const (
	EnvPyModule     = "SUPERVISE_PY_MODULE"     // dotted module, optionally "mod:callable"
	EnvPyCallable   = "SUPERVISE_PY_CALLABLE"   // default "application"
	EnvPyWSGIFile   = "SUPERVISE_PY_WSGI_FILE"  // a file to load as the app module
	EnvPyPythonPath = "SUPERVISE_PY_PYTHONPATH" // extra sys.path entries, colon separated
	// EnvPyMounts is mount: one "/prefix=app" a line (app: a .py/.wsgi
	// file or module:callable), in config order.
	EnvPyMounts = "SUPERVISE_PY_MOUNTS"
	// EnvPyManageScriptName is manage-script-name: "1" when on.
	EnvPyManageScriptName = "SUPERVISE_PY_MANAGE_SCRIPT_NAME"
	// EnvStatic is what a worker serves before the app: one
	// "OPTION VALUE" a line, OPTION one of static-map, static-map2,
	// check-static, static-index, static-safe, static-gzip-all.
	EnvStatic = "SUPERVISE_STATIC"
	// EnvPyAutoreload, set for worker 1 only, is py-autoreload: seconds
	// between scans of the loaded modules' files.
	EnvPyAutoreload = "SUPERVISE_PY_AUTORELOAD"
	// EnvPyFromPath is "1" when the interpreter is python3 from PATH (no
	// home or python-bin): an import failure then names it and the options.
	EnvPyFromPath = "SUPERVISE_PY_FROM_PATH"
)

// NotifyReload is a notify field a worker sends to ask the master for a
// graceful reload (py-autoreload); its value names the reason.
const NotifyReload = "SUPERVISE_RELOAD"

// NotifyNoApp is a notify field ("NOAPP=1") a worker sends with READY=1
// when its app failed to load and it answers every request with 500:
// "READY=1\nNOAPP=1\nSTATUS=no app loaded: <reason>".
const NotifyNoApp = "NOAPP"

// Notify messages (systemd's names).
const (
	NotifyReady    = "READY=1"
	NotifyStopping = "STOPPING=1"
	NotifyStatus   = "STATUS="
)

// ExitAppLoadFailed is the exit code of a worker whose app could not be
// loaded (uWSGI's UWSGI_FAILED_APP_CODE). With need-app the master gives up.
const ExitAppLoadFailed = 22
