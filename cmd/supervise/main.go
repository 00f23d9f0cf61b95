// Command supervise is a drop-in replacement for the uWSGI master: it runs
// `supervise --ini myapp.ini`, binds the sockets, and supervises Python or
// Go workers. Verbs (`supervise reload`, `stop`) control a running master.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/config"
	"github.com/supervise-go/supervise/ipc"
	"github.com/supervise-go/supervise/supervisor"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stderr))
}

func run(args, environ []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == supervisor.TrampolineArg {
		return supervisor.Trampoline(args[1:])
	}
	if code, done := helpOrVersion(args, os.Stdout, stderr); done {
		return code
	}
	if len(args) > 0 {
		if verb, ok := verbs[args[0]]; ok {
			return verb(args[1:], environ, stderr)
		}
	}
	return runMaster(args, environ, stderr)
}

func runMaster(args, environ []string, stderr io.Writer) int {
	cfg, err := config.Load(args, environ)
	if err != nil {
		if cfg != nil { // notices often explain the error (a typo, a refused option)
			for _, n := range cfg.Notices {
				fmt.Fprintln(stderr, "supervise: notice:", n)
			}
		}
		return configError(err, stderr)
	}
	demo := applyDemoDefaults(cfg)
	sink, err := supervisor.OpenLogSink(cfg.Logto)
	if err != nil {
		fmt.Fprintln(stderr, "supervise:", err)
		return 1
	}
	sink.SetRotation(int64(cfg.LogMaxsize), cfg.LogBackupname)
	sink.SetJSON(cfg.LogJSON)
	loggers, err := supervisor.OpenLoggers(cfg.Loggers, cfg.SyslogSocket)
	if err != nil {
		fmt.Fprintln(stderr, "supervise:", err)
		return 1
	}
	sink.SetLoggers(loggers.Unnamed)
	routes, err := loggers.Routes(cfg.LogRoutes)
	if err != nil {
		fmt.Fprintln(stderr, "supervise:", err)
		return 1
	}
	sink.SetRoutes(routes)
	if cfg.ReqLog.On() {
		reqLoggers, reqRoutes, err := supervisor.RequestLoggers(cfg.ReqLoggers, cfg.LogReqRoutes, cfg.SyslogSocket, loggers)
		if err != nil {
			fmt.Fprintln(stderr, "supervise:", err)
			return 1
		}
		sink.SetRequestLog(reqLoggers, reqRoutes, cfg.LogReqJSON)
	}
	log := hclog.New(&hclog.LoggerOptions{
		Name:       "supervise",
		Level:      hclog.Info,
		Output:     sink,
		TimeFormat: supervisor.LogTimeFormat,
		JSONFormat: cfg.LogJSON,
	})
	if demo != "" {
		log.Info(demo)
	}
	return supervisor.Serve(cfg, supervisor.Options{
		Log:     log,
		LogSink: sink,
		Env:     ipc.ParseEnv(environ),
		Reload: func() (*config.Config, error) {
			next, err := config.Load(args, environ)
			if err == nil {
				applyDemoDefaults(next)
				sink.SetRotation(int64(next.LogMaxsize), next.LogBackupname)
			}
			return next, err
		},
	})
}

func configError(err error, stderr io.Writer) int {
	fmt.Fprintln(stderr, "supervise:", err)
	var usage *config.UsageError
	if errors.As(err, &usage) {
		fmt.Fprintln(stderr, "supervise: run `supervise --help` for the options")
		return 2
	}
	return 1
}

// DemoAddress is where `supervise` with no configuration serves its
// built-in app.
const DemoAddress = "127.0.0.1:8080"

// applyDemoDefaults makes a bare `supervise` run the embedded demo app
// over HTTP, so a new user sees something work before writing any config.
func applyDemoDefaults(cfg *config.Config) string {
	if cfg.Module != "" || cfg.WSGIFile != "" || len(cfg.Mounts) > 0 || len(cfg.Exec) > 0 || len(cfg.Sockets) > 0 {
		return ""
	}
	cfg.Sockets = []config.Socket{{Addr: DemoAddress, Proto: "http"}}
	return fmt.Sprintf("no app and no socket configured: serving the built-in demo app; try: curl http://%s/", DemoAddress)
}
