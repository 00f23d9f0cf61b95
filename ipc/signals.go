package ipc

// uWSGI signals (uwsgi.register_signal, signal, add_timer, add_cron ...):
// the master owns the clocks and delivers each signal to the processes
// its target names. Every process reaches the master by path, so a
// worker forked from a zygote needs no inherited descriptor: it connects
// to EnvSignalSocket itself, says who it is (SignalHello) and keeps the
// connection for its life. The master learns the peer's pid from the
// kernel (SO_PEERCRED) and forgets the process when the connection
// closes. docs/contract.md describes the messages.
const (
	// EnvSignalSocket is the path of the master's SOCK_SEQPACKET signal
	// socket in the private runtime directory (SignalSocketName there).
	EnvSignalSocket  = "SUPERVISE_SIGNAL_SOCKET"
	SignalSocketName = "signals.sock"

	// Messages, one a packet, ASCII words separated by one space.
	// Process to master:
	SignalHello    = "hello"    // hello ROLE ID GENERATION: first, once
	SignalRegister = "register" // register SIG TARGET (a zygote only): the master's table; replied
	SignalRaise    = "signal"   // signal SIG: route SIG by the master's table; no reply
	SignalTimer    = "timer"    // timer SIG SECONDS; replied
	SignalRBTimer  = "rbtimer"  // rbtimer SIG SECONDS ITERATIONS; replied
	SignalCron     = "cron"     // cron SIG MINUTE HOUR DAY MONTH WEEKDAY; replied
	SignalFileMon  = "filemon"  // filemon SIG PATH (the rest of the packet); replied
	// Master to process:
	SignalDeliver = "sig" // sig SIG: run SIG's handler
	SignalOK      = "ok"  // the request before it worked
	SignalErr     = "err" // err MESSAGE: it did not (uWSGI's ValueError)

	// Roles a process names in its hello; targets resolve to them.
	RoleWorker  = "worker"
	RoleMule    = "mule"
	RoleSpooler = "spooler"
	// RoleZygote is a process that imports the app and forks workers:
	// what it registers is the master's table (uWSGI's non-lazy mode,
	// registered once) and its timers run until a newer generation's
	// zygote says hello.
	RoleZygote = "zygote"

	// MaxSignalTimers, MaxSignalCrons and MaxSignalFileMons are uWSGI's
	// table sizes (64 each); one more is refused, as uWSGI refuses it.
	MaxSignalTimers   = 64
	MaxSignalCrons    = 64
	MaxSignalFileMons = 64
	// MaxSignalTarget is the longest target name uWSGI keeps (63 bytes).
	MaxSignalTarget = 63

	// WkSignals is the word of a worker's scoreboard slot that counts the
	// signal handlers it ran (uWSGI's workers[].signals, counted before
	// the handler runs, as core/signal.c does). Its signal thread is the
	// one writer.
	WkSignals = 3
)
