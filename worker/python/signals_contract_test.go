package python_test

import (
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/ipc"
)

// uwsgi_signals.py (uwsgi signals) mirrors ipc/signals.go.
func TestSignalsModuleMirrorsTheContract(t *testing.T) {
	str := strconv.Quote
	want := map[string]string{
		"_ENV_SIGNAL_SOCKET": str(ipc.EnvSignalSocket), "_ENV_WORKER_ID": str(ipc.EnvWorkerID),
		"_ENV_GENERATION": str(ipc.EnvGeneration), "_SIGNAL_HELLO": str(ipc.SignalHello),
		"_SIGNAL_REGISTER": str(ipc.SignalRegister), "_SIGNAL_RAISE": str(ipc.SignalRaise),
		"_SIGNAL_TIMER": str(ipc.SignalTimer), "_SIGNAL_RB_TIMER": str(ipc.SignalRBTimer),
		"_SIGNAL_CRON": str(ipc.SignalCron), "_SIGNAL_FILE_MON": str(ipc.SignalFileMon),
		"_SIGNAL_DELIVER": str(ipc.SignalDeliver), "_SIGNAL_OK": str(ipc.SignalOK),
		"_ROLE_WORKER": str(ipc.RoleWorker), "_ROLE_ZYGOTE": str(ipc.RoleZygote),
		"_ROLE_MULE": str(ipc.RoleMule), "_ROLE_SPOOLER": str(ipc.RoleSpooler),
		"_MAX_SIGNAL_TARGET": strconv.Itoa(ipc.MaxSignalTarget), "_WK_SIGNALS": strconv.Itoa(ipc.WkSignals),
	}
	checkMirrors(t, "uwsgi_signals.py", want)
}

// uwsgi_harakiri.py (set_user_harakiri) mirrors the scoreboard words.
func TestUserHarakiriMirrorsTheContract(t *testing.T) {
	str, num := strconv.Quote, strconv.Itoa
	want := map[string]string{
		"_ENV_SCOREBOARD_FD": str(ipc.EnvScoreboardFD), "_ENV_SCOREBOARD_SLOT": str(ipc.EnvScoreboardIdx),
		"_HDR_CORES": num(ipc.HdrCores), "_HDR_SLOT_BYTES": num(ipc.HdrSlotBytes), "_HDR_CORE_BYTES": num(ipc.HdrCoreBytes),
		"_HEADER_WORDS": num(ipc.HeaderWords), "_WK_WORDS": num(ipc.WkWords),
		"_WK_USER_HARAKIRI": num(ipc.WkUserHarakiri), "_WK_USER_HARAKIRI_REQ": num(ipc.WkUserHarakiriReq),
		"_CORE_REQUESTS": num(ipc.CoreRequests), "_CORE_IN_REQUEST": num(ipc.CoreInRequest),
		"_USER_HARAKIRI_CORE_SHIFT": num(ipc.UserHarakiriCoreShift),
	}
	checkMirrors(t, "uwsgi_harakiri.py", want)
}
