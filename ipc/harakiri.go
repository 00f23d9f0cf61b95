package ipc

import "fmt"

// uwsgi.set_user_harakiri(secs): a deadline the app sets for itself,
// enforced by the master like harakiri. Two spare words of the worker's
// scoreboard slot hold it; only that worker writes them.
const (
	// WkUserHarakiri is the deadline, CLOCK_MONOTONIC ns; 0 is none.
	WkUserHarakiri = 6
	// WkUserHarakiriReq ties the deadline to the request it was set in,
	// as uWSGI resets it when that request ends: (core+1) << 48 | the
	// core's request count then. While that core still serves that
	// request (its count unchanged, in_request 1) the deadline holds;
	// afterwards it is stale. 0: set outside a request (a signal handler,
	// a post-fork hook), held until the app sets 0.
	WkUserHarakiriReq     = 7
	UserHarakiriCoreShift = 48
)

// UserHarakiriTag is what the worker writes to WkUserHarakiriReq for a
// deadline set in core's request number requests.
func UserHarakiriTag(core int, requests uint64) uint64 {
	return uint64(core+1)<<UserHarakiriCoreShift | requests&(1<<UserHarakiriCoreShift-1)
}

// UserHarakiri reports whether slot's user harakiri deadline has passed at
// nowNs (CLOCK_MONOTONIC) and still applies, and by how much it is over.
func (s *Scoreboard) UserHarakiri(slot int, nowNs uint64) (overNs uint64, what string, expired bool) {
	deadline := s.Worker(slot, WkUserHarakiri)
	if deadline == 0 || nowNs < deadline {
		return 0, "", false
	}
	tag := s.Worker(slot, WkUserHarakiriReq)
	if tag == 0 {
		return nowNs - deadline, "outside a request", true
	}
	core := int(tag>>UserHarakiriCoreShift) - 1
	if core < 0 || core >= s.cores {
		return 0, "", false
	}
	if s.Core(slot, core, CoreInRequest) != 1 || s.Core(slot, core, CoreRequests)&(1<<UserHarakiriCoreShift-1) != tag&(1<<UserHarakiriCoreShift-1) {
		return 0, "", false // the request it was set in has ended
	}
	return nowNs - deadline, fmt.Sprintf("core %d", core), true
}
