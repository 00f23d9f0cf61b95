package supervisor

import (
	"fmt"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/socket"
)

// socketSet follows the configured sockets across reloads: a socket added
// to the config is bound when the reload starts; one removed is closed
// once the new generation is ready (until then the old workers, and a
// rollback, may still need it). Only the loop's goroutine uses it.
type socketSet struct {
	current  []*socket.Listener
	retiring []*socket.Listener
	log      hclog.Logger
}

// bindOptions are the settings a socket of cfg is bound with. With uid/gid
// and no chown-socket, a unix socket belongs to the workers' user and
// group, as under uWSGI (which drops privileges before it binds unless
// told chown-socket or master-as-root): the front end, running as that
// user, can connect to it whatever the umask. The private socket between
// the front end and the workers is 0600 and theirs alone.
func bindOptions(cfg *config.Config, s config.Socket, cred func() (uid, gid int, ok bool)) socket.Options {
	opt := socket.Options{Backlog: cfg.Listen, Mode: cfg.ChmodSocket, Owner: cfg.ChownSocket}
	uid, gid, ok := cred()
	if ok && opt.Owner == "" {
		opt.Owner = fmt.Sprintf("%d:%d", uid, gid)
	}
	if s.Addr == privateBackendSocket() {
		opt.Mode = 0o600
		if ok {
			opt.Owner = fmt.Sprintf("%d:%d", uid, gid)
		}
	}
	return opt
}

func sameSocket(l *socket.Listener, s config.Socket) bool {
	return l.Name == s.Addr && l.Proto == s.Proto
}

// forConfig returns the listeners for next, binding the new ones.
func (ss *socketSet) forConfig(next *config.Config, cred func() (uid, gid int, ok bool)) ([]*socket.Listener, error) {
	var out, bound []*socket.Listener
	for _, s := range next.Sockets {
		var found *socket.Listener
		for _, l := range append(ss.current, ss.retiring...) {
			if sameSocket(l, s) {
				found = l
			}
		}
		if found == nil {
			l, err := socket.Bind(s.Addr, s.Proto, bindOptions(next, s, cred))
			if err != nil {
				closeAll(bound, true, ss.log)
				return nil, err
			}
			ss.log.Info("listening on a socket added by the reload", "address", l.Addr(), "protocol", l.Proto)
			bound = append(bound, l)
			found = l
		}
		out = append(out, found)
	}
	if len(out) == 0 {
		closeAll(bound, true, ss.log)
		return nil, errNoSocket
	}
	return out, nil
}

// switchTo makes next the current set; the sockets only the old set had
// are closed by commit.
func (ss *socketSet) switchTo(next []*socket.Listener) {
	for _, l := range append(ss.current, ss.retiring...) {
		if !contains(next, l) && !contains(ss.retiring, l) {
			ss.retiring = append(ss.retiring, l)
		}
	}
	var keep []*socket.Listener
	for _, l := range ss.retiring {
		if !contains(next, l) {
			keep = append(keep, l)
		}
	}
	ss.retiring = keep
	ss.current = next
}

// commit closes the sockets the ready generation no longer uses.
func (ss *socketSet) commit(vacuum bool) {
	for _, l := range ss.retiring {
		closeAll([]*socket.Listener{l}, vacuum, ss.log)
		ss.log.Info("closed a socket the configuration no longer names", "address", l.Name) // after: its file is gone now
	}
	ss.retiring = nil
}

func contains(ls []*socket.Listener, l *socket.Listener) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}
