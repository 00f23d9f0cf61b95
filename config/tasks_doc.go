package config

// tasksMarkdown is docs/options.md's section on hooks, cron and attached
// daemons (OptionsMarkdown).
const tasksMarkdown = "## Hooks, cron and attached daemons\n\n" +
	"**Hooks** (`hook-PHASE = ACTION:ARG`, `exec-PHASE = COMMAND`; a leading `!` on the action keeps\n" +
	"its argument out of the log). The master runs each phase's `hook-` actions, then its `exec-`\n" +
	"commands, in file order, and logs each one. A failing action stops the start (exit code 1, or\n" +
	"N for `exit:N`), as uWSGI's \"FATAL hook failed\" does; once the master runs (post-app,\n" +
	"accepting), it stops the master at once with exit code 1. Only `as-user-atexit` failures are\n" +
	"merely logged (and hook-touch's). Phases, in the order of a start:\n\n" +
	"| phase | when | as |\n|---|---|---|\n" +
	"| `asap` | first, before the sockets are bound (mkdir the socket's directory here) | the user supervise runs as |\n" +
	"| `pre-jail`, `in-jail` | after asap (there is no jail; uWSGI runs pre-jail at first start only) | that user |\n" +
	"| `as-root` | after the sockets are bound | that user (root) |\n" +
	"| `as-user` | after as-root | the workers' `uid`/`gid` |\n" +
	"| `pre-app` | before the first workers start, and before every reload's new workers (a failure refuses the reload: the old workers keep serving) | the workers' user |\n" +
	"| `master-start` | when the master's loop starts | the workers' user |\n" +
	"| `accepting`, `accepting1` | each time a worker (worker 1) is ready to accept; the master runs it and waits | the workers' user |\n" +
	"| `accepting-once`, `accepting1-once` | the first time each worker id (worker 1) is ready in this master's life | the workers' user |\n" +
	"| `post-app` | when every worker of a generation is ready (the app is loaded); after a reload a failure is logged and the new workers keep serving | the workers' user |\n" +
	"| `as-user-atexit` | when the master exits, after the workers stopped (not on reloads) | the workers' user |\n" +
	"| `touch` (`hook-touch = FILE ACTION:ARG`) | each time FILE's mtime changes (checked once a second); failures logged | the workers' user |\n\n" +
	"uWSGI re-executes itself on every reload, so it runs asap, as-root, as-user and master-start\n" +
	"again then; supervise's master is not re-executed and runs them once (an in-place upgrade runs\n" +
	"none). Commands run with `/bin/sh -c` in `chdir`, with the master's environment plus `env`,\n" +
	"output to the log; \"as the workers' user\" means the command runs with their uid/gid, and\n" +
	"file actions run on a thread whose file-system uid/gid are theirs. Never run: `post-jail`\n" +
	"(supervise has no jail; neither does uWSGI run it without one) and the Emperor/vassal phases\n" +
	"(notice). Refused: `post-fork`, `as-mule`, `as-gateway` (phases supervise does not have),\n" +
	"every `call-*` option and the `call:`, `callret:`, `callint:`, `callintret:` actions (they call\n" +
	"a C function of uWSGI's binary by name; use `exec:`), `mount:`, `umount:`, `hostname:` (no\n" +
	"namespaces: they would change the whole machine), `alarm:`, `rpc:`, `retryrpc:`, `spinningfifo:`.\n\n" +
	"Actions: `exec:CMD` (non-zero exit fails), `safeexec:CMD` (failure logged), `mkdir:DIR`,\n" +
	"`chmod:FILE MODE` (octal), `chown:FILE USER GROUP`, `chown2:FILE UID GID`, `sticky:FILE`,\n" +
	"`create:FILE`, `write:FILE TEXT`, `writen:FILE TEXT` (plus newline), `append:FILE TEXT`,\n" +
	"`appendn:FILE TEXT`, `writefifo:FIFO TEXT` (skipped when nobody reads), `unlink:FILE`,\n" +
	"`cd:DIR` (the master's directory), `putenv:K=V` (for later hooks, the workers, daemons and\n" +
	"crons), `print:TEXT`/`log:TEXT`, `exit:N`, `wait_for_fs:`/`wait_for_file:`/`wait_for_dir:PATH`\n" +
	"and `wait_for_socket:ADDR` (up to 60 s), and `unix_signal:SIGNUM FUNCTION` with\n" +
	"`gracefully_kill_them_all` (graceful stop), `kill_them_all` (immediate stop), `grace_them_all`\n" +
	"(graceful reload) or `reap_them_all` (brutal reload): the master does that on the signal\n" +
	"instead of its own handling. `hook-master-start = unix_signal:15 gracefully_kill_them_all`,\n" +
	"common in Docker images, is what supervise does on SIGTERM already (logged, nothing changes).\n\n" +
	"**Cron** (`cron`, `unique-cron`, `cron2`, `cron-harakiri`): uWSGI's numeric fields (`-1` any,\n" +
	"`-N` every N, weekday 0 or 7 Sunday; day and weekday both set match either). The master checks\n" +
	"at each minute (local time) and runs `/bin/sh -c COMMAND` as the workers' user, in `chdir`, in\n" +
	"a session of its own, output to the log; an entry runs at most once per minute, also across\n" +
	"reloads; a unique one is skipped while its last run is still going; harakiri kills the run's\n" +
	"process group; shutdown sends it SIGTERM and waits (SIGKILL after `worker-reload-mercy`).\n" +
	"`@cron` handlers in Python are the uwsgi module's (signals). `legion=` is refused.\n\n" +
	"**Daemons**: `attach-daemon2` keys `cmd` (or `command`, `exec`), `pidfile`, `daemonize`, `freq`,\n" +
	"`control`, `stopsignal`, `reloadsignal`, `stdin`, `uid`, `gid`, `chdir`, `touch` (`;`-separated),\n" +
	"`notifypid`; `max_throttle` is accepted (restarts use supervise's backoff: 1 s doubling up to\n" +
	"30 s); `ns_pid` and `legion` are refused. The command is exec'd by `/bin/sh` in a session of its\n" +
	"own; signals go to its process group. A daemon without a pidfile is restarted when it exits,\n" +
	"keeps running across reloads (it gets `reloadsignal` if set) and gets `stopsignal` on shutdown.\n" +
	"With a pidfile (`smart-attach-daemon PIDFILE[,FREQ] CMD`, `smart-attach-daemon2`, or\n" +
	"`pidfile=`) it is a smart daemon: started only when the pidfile names no live process (a\n" +
	"second master adopts a running one), started again when that process is gone or when a\n" +
	"daemonizing command leaves no live pid within FREQ checks (one a second), and left running\n" +
	"on reloads and shutdown (`notifypid` sends it the reload signal, SIGHUP by default, and the\n" +
	"stop signal). `smart-attach-daemon2` (and `daemonize=1`) keep the command in the foreground and\n" +
	"supervise writes the pidfile.\n\n" +
	"**Legions** (`legion`, `legion-*`, `*-legion*`) are refused: supervise has no legion protocol\n" +
	"(multicast membership, lord election), and lord-only daemons, crons and hooks would run on\n" +
	"every node at once or never.\n\n"
