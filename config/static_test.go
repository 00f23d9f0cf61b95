package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestMountAndStaticOptionsReachTheWorkers(t *testing.T) {
	c := mustLoad(t, []string{"--ini", writeINI(t, `[uwsgi]
socket = /tmp/x.sock
mount = /app/=app.py
mount = /api=api.wsgi:application
manage-script-name = true
static-map = /static=/srv/static
static-map2 = /media=/srv
check-static = /srv/public
static-index = index.html
static-safe = /usr/share/doc
static-gzip-all = true
`)})
	if want := []string{"/app=app.py", "/api=api.wsgi:application"}; !reflect.DeepEqual(c.Mounts, want) {
		t.Errorf("mounts %q, want %q", c.Mounts, want)
	}
	if !c.ManageScriptName {
		t.Error("manage-script-name not read")
	}
	want := Static{"static-map /static=/srv/static", "static-map2 /media=/srv", "check-static /srv/public",
		"static-index index.html", "static-safe /usr/share/doc", "static-gzip-all 1"}
	if !reflect.DeepEqual(c.Static, want) {
		t.Errorf("static %q, want %q", c.Static, want)
	}
	for _, n := range c.Notices {
		if strings.Contains(n, "static") || strings.Contains(n, "mount") {
			t.Errorf("notice for a working option: %s", n)
		}
	}
	for _, bad := range []string{"mount = app.py", "mount = /app=", "mount = app=app.py", "static-map2 = media"} {
		if _, err := load([]string{"--ini", writeINI(t, "[uwsgi]\nsocket = /tmp/x.sock\n"+bad+"\n")}, nil, 1); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
