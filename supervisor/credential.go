package supervisor

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// workerCredential resolves uid/gid (names or numbers). The master stays
// root so it can bind sockets a reload adds; only the workers drop.
func workerCredential(uidText, gidText string) (*syscall.Credential, error) {
	if uidText == "" && gidText == "" {
		return nil, nil
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if uidText != "" {
		u, err := lookupUser(uidText)
		if err != nil {
			return nil, fmt.Errorf("uid %q: %w", uidText, err)
		}
		n, _ := strconv.ParseUint(u.Uid, 10, 32)
		uid = uint32(n)
		if gidText == "" { // uWSGI keeps the group unless told; the user's primary group is safer
			g, _ := strconv.ParseUint(u.Gid, 10, 32)
			gid = uint32(g)
		}
	}
	if gidText != "" {
		n, err := strconv.ParseUint(gidText, 10, 32)
		if err != nil {
			g, lookErr := user.LookupGroup(gidText)
			if lookErr != nil {
				return nil, fmt.Errorf("gid %q: %w", gidText, lookErr)
			}
			n, _ = strconv.ParseUint(g.Gid, 10, 32)
		}
		gid = uint32(n)
	}
	if os.Geteuid() != 0 && (int(uid) != os.Getuid() || int(gid) != os.Getgid()) {
		return nil, fmt.Errorf("uid/gid %d:%d: the master must run as root to start workers as another user", uid, gid)
	}
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}}, nil
}

func lookupUser(s string) (*user.User, error) {
	if _, err := strconv.Atoi(s); err == nil {
		if u, err := user.LookupId(s); err == nil {
			return u, nil
		}
		return &user.User{Uid: s, Gid: s}, nil // a number without a passwd entry
	}
	return user.Lookup(s)
}

// shareWith lets workers running as uid:gid read worker.py and send to
// the notify socket in the private runtime directory.
func (rt *runtimeState) shareWith(uid, gid int) error {
	for _, p := range append(append([]string{rt.Dir}, rt.pythonFiles...), rt.Notify) {
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("runtime directory for uid %d: %w", uid, err)
		}
	}
	return nil
}
