package master

import (
	"errors"
	"syscall"
)

// A reload loads the new generation's app (its zygote's import, or each
// lazy worker's) while the old generation serves, on the same cores. On
// a small host that import takes its share of the CPU from the requests
// being served: an upgrade of the seed app under load on 2 cores had a
// p99 of 2.3-2.7x its steady one. So a process a reload starts runs at a
// lower priority (reloadNice above the master's) until it says READY=1,
// before it forks or serves anything; then it is set back. When nothing
// else wants the CPU the import runs as fast as before.
//
// Setting a priority back up needs CAP_SYS_NICE (a master started as
// root has it): without it OS.Renice is nil and reloads load at the
// master's priority, as before.
const reloadNice = 10

// yieldWhileLoading lowers a process a reload just started; true when it
// did (the process must then be restored by restorePriority).
func (m *Master) yieldWhileLoading(pid int) bool {
	if m.os.Renice == nil || m.oldPlan == nil {
		return false
	}
	if err := m.os.Renice(pid, reloadNice); err != nil {
		m.log.Debug("the reload's new process loads at normal priority", "pid", pid, "error", err)
		return false
	}
	return true
}

// restorePriority sets a process lowered by yieldWhileLoading back to the
// master's priority.
func (m *Master) restorePriority(pid int) {
	if err := m.os.Renice(pid, 0); err != nil && !errors.Is(err, syscall.ESRCH) {
		m.log.Warn("cannot set a process back to the master's priority after it loaded the app; it keeps a lower one",
			"pid", pid, "error", err)
	}
}
