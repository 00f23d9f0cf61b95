package ipc

// The zygote (docs/contract.md, "The zygote"): a Python process that
// imports the app once per generation and forks the workers on the
// master's request, so their memory is shared copy-on-write.
const (
	// EnvZygoteFD is the zygote's end of a SOCK_SEQPACKET socket pair. On
	// it the master sends one fork request per worker: ZygoteForkRequest
	// as JSON, with the worker's log pipe as SCM_RIGHTS (none when the
	// log is shared); the answer is "pid N SEQ" or "error SEQ TEXT", SEQ
	// the request's.
	EnvZygoteFD = "SUPERVISE_ZYGOTE_FD"
	// EnvZygoteGCFreeze is "0" to leave out gc.freeze() before forking
	// (for measuring what it saves); anything else freezes.
	EnvZygoteGCFreeze = "SUPERVISE_ZYGOTE_GC_FREEZE"
	// EnvPreloadWarmup is preload-warmup's paths, one a line: the zygote
	// GETs each from the app before it forks.
	EnvPreloadWarmup = "SUPERVISE_PRELOAD_WARMUP"
	// EnvPyCallOSAfterFork is "1" with py-call-osafterfork: the zygote
	// forks with os.fork() (CPython's after-fork callbacks run in the
	// worker) instead of a bare fork(2).
	EnvPyCallOSAfterFork = "SUPERVISE_PY_CALL_OSAFTERFORK"
	// ZygoteMaxRequest bounds a fork request.
	ZygoteMaxRequest = 1 << 20
)

// ZygoteForkRequest is one fork request: how the worker's environment
// differs from the zygote's (worker id, scoreboard slot, need-app...), as
// the master started each. The worker keeps the rest of the zygote's
// environment, what the app's import set in it too. Only the differences
// travel: the zygote decodes a handful of strings, not the whole
// environment, between two forks (what it allocates then is copied into
// every worker forked before it: docs/benchmarks.md). Every fd the
// environment names is the zygote's already.
type ZygoteForkRequest struct {
	// Seq numbers the requests: an answer that comes after its request
	// timed out is told from the next one's (and its worker killed).
	Seq uint64 `json:"seq"`
	// Set is "K=V" for each variable the worker has with another value
	// than the zygote's, or that the zygote lacks.
	Set []string `json:"set"`
	// Unset names the zygote's variables the worker does not have.
	Unset []string `json:"unset"`
}
