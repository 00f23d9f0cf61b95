package python_test

import (
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/uwsgi"
	"github.com/supervise-go/supervise/worker/python"
)

// worker.py mirrors the Go contract; a drift here would break every
// Python worker silently, so each mirrored name is compared.
func TestPythonMirrorsTheContract(t *testing.T) {
	str := func(s string) string { return strconv.Quote(s) }
	num := func(n int) string { return strconv.Itoa(n) }
	want := map[string]string{
		"ENV_LISTEN_FDS": str(ipc.EnvListenFDs), "ENV_LISTEN_FDNAMES": str(ipc.EnvListenFDNames),
		"ENV_NOTIFY_SOCKET": str(ipc.EnvNotifySocket), "ENV_WORKER_ID": str(ipc.EnvWorkerID),
		"ENV_GENERATION": str(ipc.EnvGeneration), "ENV_THREADS": str(ipc.EnvThreads),
		"ENV_LIFELINE_FD": str(ipc.EnvLifelineFD), "ENV_BUFFER_SIZE": str(ipc.EnvBufferSize),
		"ENV_DISABLE_LOGGING": str(ipc.EnvDisableLogging), "ENV_LOG_FORMAT": str(ipc.EnvLogFormat),
		"ENV_LOG_STRFTIME": str(ipc.EnvLogStrftime), "ENV_LOG_ONLY": str(ipc.EnvLogOnly),
		"ENV_LOG_JSON": str(ipc.EnvLogJSON), "ENV_LOG_XFF": str(ipc.EnvLogXFF), "ENV_PY_MODULE": str(ipc.EnvPyModule),
		"ENV_PY_CALLABLE": str(ipc.EnvPyCallable), "ENV_PY_WSGI_FILE": str(ipc.EnvPyWSGIFile),
		"ENV_PY_PYTHONPATH": str(ipc.EnvPyPythonPath), "ENV_SCOREBOARD_FD": str(ipc.EnvScoreboardFD),
		"ENV_SCOREBOARD_SLOT": str(ipc.EnvScoreboardIdx), "ENV_PY_AUTORELOAD": str(ipc.EnvPyAutoreload),
		"NOTIFY_RELOAD": str(ipc.NotifyReload), "NOTIFY_NO_APP": str(ipc.NotifyNoApp),
		"ENV_PY_MOUNTS": str(ipc.EnvPyMounts), "ENV_PY_MANAGE_SCRIPT_NAME": str(ipc.EnvPyManageScriptName),
		"ENV_STATIC":                str(ipc.EnvStatic),
		"MODIFIER_MANAGE_PATH_INFO": num(uwsgi.ModifierManagePathInfo),
		"ENV_SOCKET_TIMEOUT_MS":     str(ipc.EnvSocketTimeoutMS), "DEFAULT_SOCKET_TIMEOUT_MS": num(ipc.DefaultSocketTimeoutMS),
		"EXIT_LISTENER_GONE": num(ipc.ExitListenerGone),
		"ENV_MAX_VARS":       str(ipc.EnvMaxVars), "ENV_NEED_APP": str(ipc.EnvNeedApp), "ENV_PY_FROM_PATH": str(ipc.EnvPyFromPath),
		"DEFAULT_MAX_VARS": num(config.DefaultMaxVars),
		"FIRST_LISTEN_FD":  num(ipc.FirstListenFD), "EXIT_APP_LOAD_FAILED": num(ipc.ExitAppLoadFailed),
		"SB_VERSION": num(ipc.ScoreboardVersion),
		"HDR_MAGIC":  num(ipc.HdrMagic), "HDR_VERSION": num(ipc.HdrVersion), "HDR_SLOTS": num(ipc.HdrSlots),
		"HDR_CORES": num(ipc.HdrCores), "HDR_SLOT_BYTES": num(ipc.HdrSlotBytes), "HDR_CORE_BYTES": num(ipc.HdrCoreBytes),
		"HEADER_WORDS": num(ipc.HeaderWords),
		"WK_PID":       num(ipc.WkPID), "WK_ACCEPTING": num(ipc.WkAccepting), "WK_ID": num(ipc.WkID),
		"CORE_TX": num(ipc.CoreTx), "CORE_RT_TOTAL_US": num(ipc.CoreRtTotalUs),
		"WK_WORDS":      num(ipc.WkWords),
		"CORE_REQUESTS": num(ipc.CoreRequests), "CORE_IN_REQUEST": num(ipc.CoreInRequest),
		"CORE_START_NS": num(ipc.CoreStartNs), "CORE_READ_ERRORS": num(ipc.CoreReadErrors),
		"CORE_WRITE_ERRORS": num(ipc.CoreWriteErrors), "CORE_EXCEPTIONS": num(ipc.CoreExceptions),
		"CORE_VARS_LEN": num(ipc.CoreVarsLen), "CORE_VARS_FORMAT": num(ipc.CoreVarsFormat),
		"CORE_WORDS": num(ipc.CoreWords), "VARS_BYTES": num(ipc.VarsBytes),
		"CORE_STATUS": num(ipc.CoreStatus), "STATUS_CLASSES": num(ipc.StatusClasses),
		"CORE_DURATION": num(ipc.CoreDuration),
		"VARS_UWSGI":    num(ipc.VarsUwsgi), "VARS_HTTP": num(ipc.VarsHTTP),
		"ENV_ZYGOTE_FD": str(ipc.EnvZygoteFD),
		"ENV_REQ_LOG":   str(ipc.EnvReqLog), "REQ_LOG_MARK": str(ipc.ReqLogMark),
	}
	values := checkMirrors(t, python.FileName, want)
	var bounds []string
	for _, b := range ipc.DurationBoundsUs {
		bounds = append(bounds, strconv.FormatUint(b, 10))
	}
	tuple := regexp.MustCompile(`(?m)^DURATION_BOUNDS_US = \(([^)]*)\)`).FindSubmatch(python.Source)
	if tuple == nil || strings.Join(strings.Fields(strings.ReplaceAll(string(tuple[1]), ",", " ")), ",") != strings.Join(bounds, ",") {
		t.Errorf("worker.py DURATION_BOUNDS_US = %q, Go says (%s)", tuple, strings.Join(bounds, ", "))
	}
	magic, err := strconv.ParseUint(values["SB_MAGIC"], 0, 64)
	if err != nil || magic != ipc.ScoreboardMagic {
		t.Errorf("SB_MAGIC %q, Go says %#x", values["SB_MAGIC"], uint64(ipc.ScoreboardMagic))
	}
}

// uwsgi_api.py (the uwsgi module) mirrors the names it reads too.
func TestUwsgiModuleMirrorsTheContract(t *testing.T) {
	str := func(s string) string { return strconv.Quote(s) }
	num := func(n int) string { return strconv.Itoa(n) }
	want := map[string]string{
		"_ENV_UWSGI_OPT": str(ipc.EnvUwsgiOpt), "_ENV_MAGIC_TABLE": str(ipc.EnvMagicTable),
		"_ENV_PROCESSES": str(ipc.EnvProcesses), "_ENV_STARTED_ON": str(ipc.EnvStartedOn),
		"_ENV_LOCKS_FD": str(ipc.EnvLocksFD), "_ENV_LOCKS": str(ipc.EnvLocks),
		"_ENV_MASTER_PID": str(ipc.EnvMasterPID), "_ENV_WORKER_ID": str(ipc.EnvWorkerID),
		"_ENV_THREADS": str(ipc.EnvThreads), "_ENV_BUFFER_SIZE": str(ipc.EnvBufferSize),
		"_ENV_NOTIFY_SOCKET": str(ipc.EnvNotifySocket), "_ENV_SCOREBOARD_FD": str(ipc.EnvScoreboardFD),
		"_NOTIFY_COMMAND": str(ipc.NotifyCommand),
		"_HDR_SLOTS":      num(ipc.HdrSlots), "_HDR_CORES": num(ipc.HdrCores), "_HDR_SLOT_BYTES": num(ipc.HdrSlotBytes),
		"_HDR_CORE_BYTES": num(ipc.HdrCoreBytes), "_HEADER_WORDS": num(ipc.HeaderWords),
		"_WK_PID": num(ipc.WkPID), "_WK_ACCEPTING": num(ipc.WkAccepting), "_WK_ID": num(ipc.WkID), "_WK_WORDS": num(ipc.WkWords),
		"_WK_SIGNALS":    num(ipc.WkSignals),
		"_CORE_REQUESTS": num(ipc.CoreRequests), "_CORE_IN_REQUEST": num(ipc.CoreInRequest),
		"_CORE_EXCEPTIONS": num(ipc.CoreExceptions), "_CORE_TX": num(ipc.CoreTx), "_CORE_RT_TOTAL_US": num(ipc.CoreRtTotalUs),
	}
	checkMirrors(t, python.APIFileName, want)
}

// zygote.py (the zygote's fork loop) mirrors the fork socket's contract.
func TestZygoteMirrorsTheContract(t *testing.T) {
	want := map[string]string{
		"ENV_ZYGOTE_GC_FREEZE": strconv.Quote(ipc.EnvZygoteGCFreeze),
		"ENV_PRELOAD_WARMUP":   strconv.Quote(ipc.EnvPreloadWarmup),
		"ENV_CALL_OSAFTERFORK": strconv.Quote(ipc.EnvPyCallOSAfterFork),
		"ZYGOTE_MAX_REQUEST":   "1 << 20",
		"ZYGOTE_MAX_BATCH":     strconv.Itoa(ipc.ZygoteMaxBatch),
	}
	if ipc.ZygoteMaxRequest != 1<<20 {
		t.Errorf("ipc.ZygoteMaxRequest is %d; update zygote.py's ZYGOTE_MAX_REQUEST and this test", ipc.ZygoteMaxRequest)
	}
	checkMirrors(t, "zygote.py", want)
}

// checkMirrors fails the test for each name in want whose top-level
// assignment in the embedded Python file differs (or is missing), and
// returns every constant the file assigns.
func checkMirrors(t *testing.T, file string, want map[string]string) map[string]string {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	values := pythonConstants(src, `([A-Z][A-Z0-9_, ]*?|_[A-Z0-9_, ]+?)`)
	for name, w := range want {
		if got, ok := values[name]; !ok || got != w {
			t.Errorf("%s %s = %q, Go says %s", file, name, got, w)
		}
	}
	return values
}

// pythonConstants reads the top-level constant assignments of a Python
// source whose names match name (a regexp group, e.g. `([A-Z_, ]+?)`),
// including tuple assignments (A, B = 1, 2): name -> value as written.
func pythonConstants(src []byte, name string) map[string]string {
	assign := regexp.MustCompile(`(?m)^` + name + `\s*=\s*(.+)$`)
	comma := regexp.MustCompile(`\s*,\s*`)
	values := map[string]string{}
	for _, m := range assign.FindAllStringSubmatch(string(src), -1) {
		names, vals := comma.Split(m[1], -1), comma.Split(m[2], -1)
		if len(names) != len(vals) {
			continue
		}
		for i, n := range names {
			values[n] = vals[i]
		}
	}
	return values
}
