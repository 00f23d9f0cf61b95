package python_test

import (
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/worker/python"
)

// spooler.py and mule.py mirror the services contract (ipc/services.go).
func TestServicesMirrorTheContract(t *testing.T) {
	str := func(s string) string { return strconv.Quote(s) }
	num := func(n int) string { return strconv.Itoa(n) }
	want := map[string]string{
		"_ENV_SERVICES": str(ipc.EnvServices), "_ENV_SPOOLER": str(ipc.EnvSpooler),
		"_SERVICE_HEADER_WORDS": num(ipc.ServiceHeaderWords), "_SERVICE_SLOTS": num(ipc.ServiceSlots),
		"_SERVICE_SLOT_WORDS": num(ipc.ServiceSlotWords),
		"_SVC_PID":            num(ipc.SvcPID), "_SVC_TASKS": num(ipc.SvcTasks), "_SVC_RUNNING": num(ipc.SvcRunning),
		"_SVC_TASK_START_NS": num(ipc.SvcTaskStartNs), "_SVC_FREQUENCY": num(ipc.ServiceHdrFrequency),
	}
	checkMirrors(t, "spooler.py", want)
	checkMirrors(t, "mule.py", map[string]string{"_ENV_MULE": str(ipc.EnvMule)})
	checkMirrors(t, python.FileName, map[string]string{"ENV_SPOOLER": str(ipc.EnvSpooler), "ENV_MULE": str(ipc.EnvMule)})
	checkMirrors(t, python.APIFileName, map[string]string{"_ENV_SPOOLER": str(ipc.EnvSpooler), "_ENV_MULE": str(ipc.EnvMule)})
}
