package python_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/worker/python"
)

// spooler.py and mule.py mirror the services contract (ipc/services.go).
func TestServicesMirrorTheContract(t *testing.T) {
	src, err := os.ReadFile("spooler.py")
	if err != nil {
		t.Fatal(err)
	}
	values := pythonConstants(src, `(_[A-Z_, ]+?)`)
	str := func(s string) string { return strconv.Quote(s) }
	num := func(n int) string { return strconv.Itoa(n) }
	want := map[string]string{
		"_ENV_SERVICES": str(ipc.EnvServices), "_ENV_SPOOLER": str(ipc.EnvSpooler),
		"_SERVICE_HEADER_WORDS": num(ipc.ServiceHeaderWords), "_SERVICE_SLOTS": num(ipc.ServiceSlots),
		"_SERVICE_SLOT_WORDS": num(ipc.ServiceSlotWords),
		"_SVC_PID":            num(ipc.SvcPID), "_SVC_TASKS": num(ipc.SvcTasks), "_SVC_RUNNING": num(ipc.SvcRunning),
		"_SVC_TASK_START_NS": num(ipc.SvcTaskStartNs), "_SVC_FREQUENCY": num(ipc.ServiceHdrFrequency),
	}
	for name, w := range want {
		if got, ok := values[name]; !ok || got != w {
			t.Errorf("spooler.py %s = %q, Go says %s", name, got, w)
		}
	}
	src, err = os.ReadFile("mule.py")
	if err != nil {
		t.Fatal(err)
	}
	if got := pythonConstants(src, `(_[A-Z_, ]+?)`)["_ENV_MULE"]; got != str(ipc.EnvMule) {
		t.Errorf("mule.py _ENV_MULE = %s, Go says %q", got, ipc.EnvMule)
	}
	api := pythonConstants(python.APISource, `(_[A-Z_, ]+?)`)
	if api["_ENV_SPOOLER"] != str(ipc.EnvSpooler) || api["_ENV_MULE"] != str(ipc.EnvMule) {
		t.Errorf("uwsgi_api.py _ENV_SPOOLER = %s, _ENV_MULE = %s; Go says %q, %q", api["_ENV_SPOOLER"], api["_ENV_MULE"], ipc.EnvSpooler, ipc.EnvMule)
	}
}
