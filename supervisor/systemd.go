package supervisor

import (
	"fmt"
	"os"
	"time"

	sdnotify "github.com/coreos/go-systemd/v22/daemon"
	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/master"
)

// systemd speaks sd_notify to the service manager that started the master
// (Type=notify), through go-systemd's daemon package (NOTIFY_SOCKET,
// WATCHDOG_USEC and WATCHDOG_PID from the environment): READY=1 once the
// first generation is up, RELOADING=1 and READY=1 around every reload,
// failed ones included (uWSGI never re-notifies: its issue 1420),
// STOPPING=1, STATUS= lines, WATCHDOG=1 pings from the loop itself, and
// EXTEND_TIMEOUT_USEC while a reload or a stop drains.
type systemd struct {
	enabled         bool // NOTIFY_SOCKET is set
	watchdogTimeout time.Duration
	log             hclog.Logger
	// draining is set from RELOADING=1 or STOPPING=1 until the next
	// READY=1; only the loop's goroutine touches it.
	draining bool
}

// extendEvery is how often a drain asks systemd for more time, and
// extendBy how much: a loop that stops asking (hung) lets the unit's
// timeout run out again within extendBy.
const (
	extendEvery = 5 * time.Second
	extendBy    = 3 * extendEvery
)

func newSystemd(log hclog.Logger, env ipc.Env) *systemd {
	sd := &systemd{enabled: env.Get(ipc.EnvNotifySocket) != "", log: log}
	if d, err := env.Watchdog(os.Getpid()); err != nil {
		log.Warn("ignoring systemd's watchdog settings", "error", err)
	} else {
		sd.watchdogTimeout = d
	}
	return sd
}

func (sd *systemd) send(state string) {
	if !sd.enabled {
		return
	}
	if _, err := sdnotify.SdNotify(false, state); err != nil {
		sd.log.Warn("cannot notify systemd", "error", err)
	}
}

func (sd *systemd) ready(status string) {
	sd.draining = false
	sd.send(fmt.Sprintf("%s\nSTATUS=%s\nMAINPID=%d", sdnotify.SdNotifyReady, status, os.Getpid()))
}

// drain starts asking for more time; extend keeps asking while it lasts.
func (sd *systemd) drain(state string) {
	sd.draining = true
	sd.send(state + "\n" + sd.extension())
}

func (sd *systemd) extension() string {
	return fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", extendBy.Microseconds())
}

func (sd *systemd) extend() {
	if sd.draining {
		sd.send(sd.extension())
	}
}

func (sd *systemd) hooks() master.Hooks {
	return master.Hooks{
		Ready:        func(gen int) { sd.ready(fmt.Sprintf("generation %d: all workers ready", gen)) },
		Reloading:    sd.reloading,
		ReloadFailed: sd.reloadFailed,
		Stopping:     func() { sd.drain(sdnotify.SdNotifyStopping + "\nSTATUS=stopping") },
	}
}

// reloading tells systemd a reload started (the unit shows "reloading").
func (sd *systemd) reloading() {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	sd.drain(fmt.Sprintf("%s\nMONOTONIC_USEC=%d\nSTATUS=reloading", sdnotify.SdNotifyReloading, ts.Nano()/int64(time.Microsecond)))
}

// reloadFailed ends a reload that did not happen: the unit leaves
// "reloading", and its status says which generation serves.
func (sd *systemd) reloadFailed(serving int, reason string) {
	sd.ready(fmt.Sprintf("reload failed (%s); generation %d keeps serving", reason, serving))
}

// watchdogInterval is half of WATCHDOG_USEC, as sd_watchdog_enabled advises.
func (sd *systemd) watchdogInterval() time.Duration { return sd.watchdogTimeout / 2 }

// ping runs f on the loop's goroutine every interval: watchdog pings and
// drain extensions come from the loop itself, so a loop that hangs stops
// them and systemd steps in.
func (sd *systemd) ping(every time.Duration, f func(), calls chan<- func(), stop <-chan struct{}) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		select {
		case calls <- f:
		case <-stop:
			return
		}
	}
}

// start runs the pings this unit wants.
func (sd *systemd) start(calls chan<- func(), stop <-chan struct{}) {
	if !sd.enabled {
		return
	}
	if every := sd.watchdogInterval(); every > 0 {
		go sd.ping(every, func() { sd.send(sdnotify.SdNotifyWatchdog) }, calls, stop)
	}
	go sd.ping(extendEvery, sd.extend, calls, stop)
}
