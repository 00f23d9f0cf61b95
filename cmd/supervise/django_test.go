package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDjangoAdminWithStaticMap runs a fresh `django-admin startproject`
// (Debian's python3-django) with its admin, its static files collected and
// served by static-map, behind nginx (uwsgi_pass) and on http-socket. Django
// runs with DEBUG off, so it serves no static file itself. The project is
// also mounted under /site (mount, manage-script-name).
func TestDjangoAdminWithStaticMap(t *testing.T) {
	parallel(t)
	py := requireTool(t, "/usr/bin/python3", "-c", "import django")
	dir := shortTempDir(t)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(py, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DJANGO_SETTINGS_MODULE=mysite.settings")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("-m", "django", "startproject", "mysite", dir)
	settings := filepath.Join(dir, "mysite", "settings.py")
	raw, err := os.ReadFile(settings)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(raw), "DEBUG = True", "DEBUG = False", 1)
	s = strings.Replace(s, "ALLOWED_HOSTS = []", "ALLOWED_HOSTS = ['*']", 1)
	s += "\nSTATIC_ROOT = BASE_DIR / 'static_root'\n"
	writeFile(t, settings, s)
	run("manage.py", "collectstatic", "--noinput", "-v", "0")
	css, err := os.ReadFile(filepath.Join(dir, "static_root", "admin", "css", "base.css"))
	if err != nil {
		t.Fatal(err)
	}

	sock := filepath.Join(dir, "app.sock")
	port := freePort(t)
	ini := filepath.Join(dir, "mysite.ini")
	writeFile(t, ini, fmt.Sprintf(`[uwsgi]
socket = %s
http-socket = 127.0.0.1:%d
chdir = %s
module = mysite.wsgi:application
env = DJANGO_SETTINGS_MODULE=mysite.settings
static-map = /static=%s/static_root
mount = /site=mysite/wsgi.py
manage-script-name = true
processes = 1
threads = 2
`, sock, port, dir, dir))
	m := startMaster(t, dir, "--ini", ini, "--python-bin", py)
	m.waitLog(`all workers ready`, 1)
	nginx := startNginx(t, dir, "unix:"+sock)
	for _, base := range []string{nginx, fmt.Sprintf("http://127.0.0.1:%d", port)} {
		code, body := get(t, base+"/admin/login/")
		if code != 200 || !strings.Contains(body, `href="/static/admin/css/base.css"`) {
			t.Fatalf("%s/admin/login/: %d %.300q", base, code, body)
		}
		code, body = get(t, base+"/static/admin/css/base.css")
		if code != 200 || body != string(css) {
			t.Errorf("%s/static/admin/css/base.css: %d, %d bytes, want the collected file's %d", base, code, len(body), len(css))
		}
		if code, _ := get(t, base+"/static/../mysite/settings.py"); code == 200 {
			t.Errorf("%s: a path climbing out of static-map was served", base)
		}
		// The same project mounted under /site: Django builds its URLs
		// from the SCRIPT_NAME that manage-script-name gives it.
		code, body = get(t, base+"/site/admin/login/")
		if code != 200 || !strings.Contains(body, `action="/site/admin/login/"`) {
			t.Errorf("%s/site/admin/login/: %d %.300q", base, code, body)
		}
	}
}
