package ipc

// The zygote (docs/contract.md, "The zygote"): a Python process that
// imports the app once per generation and forks the workers on the
// master's request, so their memory is shared copy-on-write.
const (
	// EnvZygoteFD is the zygote's end of a SOCK_SEQPACKET socket pair. On
	// it the master sends fork requests, each naming one or more workers:
	// ZygoteForkRequest as JSON, with the workers' log pipes as SCM_RIGHTS
	// (none when the log is shared); the answer is "pids SEQ P1 P2 ..."
	// (a pid for each worker in the request's order, 0 where that fork
	// failed) or "error SEQ TEXT", SEQ the request's.
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

// ZygoteMaxBatch bounds the workers one fork request names (their log
// pipes travel in one SCM_RIGHTS message, which carries at most 253 fds):
// the master splits a larger set into several requests.
const ZygoteMaxBatch = 64

// ZygoteForkRequest is one fork request: the workers to fork, in one go.
// The master names every worker a generation misses (its start, a reload,
// several deaths at once) in one request, so the zygote forks them back to
// back with no Python between two forks: what the zygote writes between
// two forks is copied into every worker forked before (~100 KB each,
// docs/benchmarks.md). The answer names each worker's pid in order.
type ZygoteForkRequest struct {
	// Seq numbers the requests: an answer that comes after its request
	// timed out is told from the next one's (and its workers killed).
	Seq uint64 `json:"seq"`
	// Workers are the workers to fork, at most ZygoteMaxBatch.
	Workers []ZygoteWorker `json:"workers"`
}

// ZygoteWorker is one worker of a fork request: how its environment
// differs from the zygote's (worker id, scoreboard slot, need-app...), as
// the master started each. The worker keeps the rest of the zygote's
// environment, what the app's import set in it too. Only the differences
// travel: the zygote decodes a handful of strings, not the whole
// environment. Every fd the environment names is the zygote's already.
type ZygoteWorker struct {
	// Set is "K=V" for each variable the worker has with another value
	// than the zygote's, or that the zygote lacks.
	Set []string `json:"set"`
	// Unset names the zygote's variables the worker does not have.
	Unset []string `json:"unset"`
	// Log is the index, among the request's SCM_RIGHTS fds, of the
	// worker's own log pipe (its fds 1 and 2); -1 when the log is shared.
	Log int `json:"log"`
}
