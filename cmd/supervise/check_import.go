package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/supervisor"
	"github.com/supervise-go/supervise/worker/python"
)

// appProbe is what importing the app in the chosen interpreter found.
type appProbe struct {
	Interpreter string `json:"interpreter"`
	Executable  string `json:"executable"` // sys.executable
	Version     string `json:"version"`
	Imported    bool   `json:"imported"`
}

// minPython is the oldest Python the worker runs on (worker.py's
// PYTHON_FLOOR; a test checks they agree).
var minPython = [2]int{3, 7}

// probeTimeout bounds the import (an app that connects somewhere at
// import may hang).
const probeTimeout = 60 * time.Second

// probeScript loads the app the way worker.py's load_app does (the
// working directory first on sys.path, then pythonpath; module or
// wsgi-file; callable, called when it ends in "()"), without binding or
// serving anything, and writes what it found as JSON on fd 3.
const probeScript = `
import importlib, importlib.util, json, os, sys, traceback
out = os.fdopen(3, "w")
res = {"executable": sys.executable, "version": "%d.%d.%d" % sys.version_info[:3], "imported": False}
def done():
    out.write(json.dumps(res)); out.flush(); os._exit(0)
if sys.version_info < (MIN_MAJOR, MIN_MINOR):
    done()
module, callable_name, wsgi_file = sys.argv[1], sys.argv[2] or "application", sys.argv[3]
if ":" in module:
    module, callable_name = module.split(":", 1)
sys.path[0:1] = [os.getcwd()]
sys.path[0:0] = [p for p in sys.argv[4].split(":") if p]
try:
    # The uwsgi module, as worker.py installs it before the app loads.
    spec = importlib.util.spec_from_file_location("uwsgi", sys.argv[5])
    sys.modules["uwsgi"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["uwsgi"])
    if wsgi_file:
        name = "uwsgi_file_" + "".join(c if c.isalnum() else "_" for c in wsgi_file)
        spec = importlib.util.spec_from_file_location(name, wsgi_file)
        if spec is None:
            raise ImportError("cannot load %s as Python" % wsgi_file)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    else:
        mod = importlib.import_module(module)
    factory = callable_name.endswith("()")
    attr = callable_name[:-2] if factory else callable_name
    if not hasattr(mod, attr):
        raise AttributeError("%s has no attribute %r" % (getattr(mod, "__file__", module), attr))
    app = getattr(mod, attr)
    if factory:
        app = app()
    if not callable(app):
        raise TypeError("%s.%s is not callable" % (module or wsgi_file, callable_name))
    res["imported"] = True
except BaseException as e:
    res["error"] = "%s: %s" % (type(e).__name__, e)
    res["traceback"] = traceback.format_exc()
done()
`

// probeApp imports the app, and each mounted app, as probeOne does.
func probeApp(cfg *config.Config, python string, environ []string) (*appProbe, error) {
	if cfg.ASGI != "" { // asgi = module:attr imports as module:callable does (attr defaults to app)
		c := *cfg
		c.Module, c.Callable = cfg.ASGI, "app"
		return probeOne(&c, python, environ)
	}
	if len(cfg.Mounts) == 0 {
		return probeOne(cfg, python, environ)
	}
	var probe *appProbe
	var err error
	if cfg.Module != "" || cfg.WSGIFile != "" {
		if probe, err = probeOne(cfg, python, environ); err != nil {
			return nil, err
		}
	}
	for _, m := range cfg.Mounts {
		c := *cfg
		_, app, _ := strings.Cut(m, "=")
		c.Module, c.WSGIFile = app, "" // module:callable, split by the probe script
		if strings.HasSuffix(app, ".py") || strings.HasSuffix(app, ".wsgi") {
			c.Module, c.WSGIFile = "", app
		}
		if probe, err = probeOne(&c, python, environ); err != nil {
			return nil, fmt.Errorf("mount = %s: %w", m, err)
		}
	}
	return probe, nil
}

// writeUwsgiModule writes the embedded uwsgi_api.py (and the modules
// beside it) into a private directory for the probe; the caller removes
// the directory.
func writeUwsgiModule() (string, error) {
	dir, err := os.MkdirTemp("", "supervise-check-")
	if err != nil {
		return "", fmt.Errorf("import check: %w", err)
	}
	if _, err := python.WriteAll(dir, 0o644); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("import check: %w", err)
	}
	return filepath.Join(dir, python.APIFileName), nil
}

// probeOne imports the app in a throwaway process of the interpreter the
// workers would run, with their directory, environment and pythonpath.
func probeOne(cfg *config.Config, python string, environ []string) (*appProbe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	script := strings.NewReplacer("MIN_MAJOR", fmt.Sprint(minPython[0]), "MIN_MINOR", fmt.Sprint(minPython[1])).Replace(probeScript)
	api, err := writeUwsgiModule()
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(filepath.Dir(api))
	cmd := exec.CommandContext(ctx, python, "-c", script, cfg.Module, cfg.Callable, cfg.WSGIFile, strings.Join(cfg.PythonPath, ":"), api)
	cmd.Dir = cfg.Chdir
	cmd.Env = append(append([]string(nil), environ...), cfg.Env...)
	// What the uwsgi module reads in a worker; this process stands in for
	// the master (uwsgidecorators refuses to load when masterpid() is 0).
	cmd.Env = append(cmd.Env, supervisor.UwsgiModuleEnv(cfg, time.Now())...)
	cmd.Env = append(cmd.Env, ipc.EnvMasterPID+"="+strconv.Itoa(os.Getpid()))
	if cfg.Home != "" {
		cmd.Env = append(cmd.Env, "VIRTUAL_ENV="+cfg.Home)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cmd.ExtraFiles = []*os.File{w}
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	runErr := cmd.Start()
	w.Close()
	var res struct {
		appProbe
		Error, Traceback string
	}
	var decodeErr error
	if runErr == nil {
		decodeErr = json.NewDecoder(r).Decode(&res)
		runErr = cmd.Wait()
	}
	res.Interpreter = python
	hint := interpreterHint(cfg, python)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("importing the app with %s took more than %v (does it connect somewhere at import?)", python, probeTimeout)
	case runErr != nil && decodeErr == nil && res.Version == "":
		return nil, fmt.Errorf("could not run %s in %q for the import check: %v (check chdir, python-bin and home)", python, cmd.Dir, runErr)
	case decodeErr != nil:
		return nil, fmt.Errorf("%s could not run the import check (%v, %v): is it a Python 3 interpreter?%s\n%s", python, runErr, decodeErr, hint, strings.TrimSpace(output.String()))
	}
	if !versionAtLeast(res.Version, minPython) {
		return nil, fmt.Errorf("%s is Python %s; the worker needs Python %d.%d or newer%s", python, res.Version, minPython[0], minPython[1], hint)
	}
	if !res.Imported {
		what := "module " + cfg.Module
		if cfg.WSGIFile != "" {
			what = "wsgi-file " + cfg.WSGIFile
		}
		return nil, fmt.Errorf("the app does not load: %s (callable %s) in %s (Python %s): %s%s\n%s", what, cfg.Callable, python, res.Version, res.Error, hint, strings.TrimSpace(res.Traceback))
	}
	return &res.appProbe, nil
}

// interpreterHint says how to choose another interpreter when the one
// used was found on PATH.
func interpreterHint(cfg *config.Config, python string) string {
	if cfg.PythonBin != "" || cfg.Home != "" {
		return ""
	}
	return fmt.Sprintf("; %s is the python3 found on PATH (no home or python-bin is set): if the app's packages are in a virtualenv, set home = /path/to/venv, or python-bin = /path/to/python3", python)
}

func versionAtLeast(v string, floor [2]int) bool {
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > floor[0] || (major == floor[0] && minor >= floor[1])
}
