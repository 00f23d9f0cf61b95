package supervisor

import (
	"testing"

	"github.com/supervise-go/supervise/config"
)

func TestBindOptionsGiveSocketsToTheWorkersUser(t *testing.T) {
	asNobody := func() (int, int, bool) { return 65534, 65533, true }
	asSelf := func() (int, int, bool) { return 0, 0, false }
	private := config.Socket{Addr: privateBackendSocket(), Proto: "uwsgi"}
	mine := config.Socket{Addr: "/run/app.sock", Proto: "uwsgi"}
	for _, c := range []struct {
		name  string
		cfg   config.Config
		s     config.Socket
		cred  func() (int, int, bool)
		owner string
		mode  uint32
	}{
		{"uid, no chown-socket", config.Config{}, mine, asNobody, "65534:65533", 0},
		{"chown-socket wins", config.Config{ChownSocket: "www-data"}, mine, asNobody, "www-data", 0},
		{"chmod-socket kept", config.Config{ChmodSocket: 0o660}, mine, asNobody, "65534:65533", 0o660},
		{"no uid", config.Config{}, mine, asSelf, "", 0},
		{"private, uid", config.Config{ChownSocket: "www-data", ChmodSocket: 0o666}, private, asNobody, "65534:65533", 0o600},
		{"private, no uid", config.Config{ChmodSocket: 0o666}, private, asSelf, "", 0o600},
	} {
		opt := bindOptions(&c.cfg, c.s, c.cred)
		if opt.Owner != c.owner || uint32(opt.Mode) != c.mode {
			t.Errorf("%s: owner %q mode %o, want %q %o", c.name, opt.Owner, opt.Mode, c.owner, c.mode)
		}
	}
}
