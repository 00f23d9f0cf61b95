package master

import (
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

func sameSocket(l *socket.Listener, s config.Socket) bool {
	return l.Name == s.Addr && l.Proto == s.Proto
}

// forConfig returns the listeners for next, binding the new ones.
func (ss *socketSet) forConfig(next *config.Config) ([]*socket.Listener, error) {
	var out, bound []*socket.Listener
	for _, s := range next.Sockets {
		var found *socket.Listener
		for _, l := range append(ss.current, ss.retiring...) {
			if sameSocket(l, s) {
				found = l
			}
		}
		if found == nil {
			l, err := socket.Bind(s.Addr, s.Proto, socket.Options{Backlog: next.Listen, Mode: next.ChmodSocket, Owner: next.ChownSocket})
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
