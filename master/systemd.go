package master

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
)

// systemd speaks sd_notify to the service manager that started the master
// (Type=notify): READY=1 once the first generation is up, RELOADING=1 and
// READY=1 around every reload (uWSGI never re-notifies: its issue 1420),
// STOPPING=1, STATUS= lines, and WATCHDOG=1 pings from the loop itself.
type systemd struct {
	socket          string
	watchdogTimeout time.Duration
	log             hclog.Logger
}

func newSystemd(environ []string, log hclog.Logger) *systemd {
	get := func(name string) string {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, name+"="); ok {
				return v
			}
		}
		return ""
	}
	sd := &systemd{socket: get(ipc.EnvNotifySocket), log: log}
	usec, err := strconv.ParseInt(get("WATCHDOG_USEC"), 10, 64)
	pid := get("WATCHDOG_PID")
	if err == nil && usec > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		sd.watchdogTimeout = time.Duration(usec) * time.Microsecond
	}
	return sd
}

func (sd *systemd) send(state string) {
	if sd.socket == "" {
		return
	}
	if err := ipc.NotifyTo(sd.socket, state); err != nil {
		sd.log.Warn("cannot notify systemd", "error", err)
	}
}

func (sd *systemd) hooks() Hooks {
	return Hooks{
		Ready: func(gen int) {
			sd.send(fmt.Sprintf("READY=1\nSTATUS=generation %d: all workers ready\nMAINPID=%d", gen, os.Getpid()))
		},
		Reloading: func() {
			var ts unix.Timespec
			_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
			sd.send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d\nSTATUS=reloading", ts.Nano()/int64(time.Microsecond)))
		},
		Stopping: func() { sd.send("STOPPING=1\nSTATUS=stopping") },
	}
}

// watchdogInterval is half of WATCHDOG_USEC, as sd_watchdog_enabled advises.
func (sd *systemd) watchdogInterval() time.Duration { return sd.watchdogTimeout / 2 }

// watchdog pings through the loop: a loop that hangs stops the pings and
// systemd restarts the service.
func (sd *systemd) pingWatchdog(every time.Duration, calls chan<- func(), stop <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		select {
		case calls <- func() { sd.send("WATCHDOG=1") }:
		case <-stop:
			return
		}
	}
}
