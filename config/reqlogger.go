package config

import (
	"fmt"
	"strings"
)

// ReqLog is where request lines go when they have their own loggers
// (uWSGI's req-logger, log-req-route, log-req-encoder).
type ReqLog struct {
	// ReqLoggers are req-logger's targets, as logger's ("NAME TARGET"
	// names one for log-req-route).
	ReqLoggers []string
	// LogReqRoutes are log-req-route's "NAME REGEXP": request lines that
	// go to a named logger instead.
	LogReqRoutes []string
	// LogReqJSON is log-req-encoder = json: request lines are one JSON
	// object each.
	LogReqJSON bool
}

// On is true when request lines leave the workers marked, for the master
// to route apart from the other lines.
func (r ReqLog) On() bool { return len(r.ReqLoggers) > 0 || len(r.LogReqRoutes) > 0 }

var _ = addOptions(
	works("req-logger", []string{"logger-req"}, List, "", "send request lines (Python and Go workers) to file:PATH, stdio, syslog[:IDENT[,FACILITY]] or socket:ADDR, as logger's targets, instead of logto and the loggers; NAME TARGET names one for log-req-route (repeatable; read at start)",
		list(func(c *Config) *[]string { return &c.ReqLoggers })),
	works("log-req-route", nil, List, "", "NAME REGEXP: request lines the regexp (Go's syntax) matches go to the logger named NAME (req-logger = NAME TARGET, else logger = NAME TARGET) and nowhere else (repeatable; read at start)",
		list(func(c *Config) *[]string { return &c.LogReqRoutes })),
	works("log-req-encoder", nil, List, "", "json: with req-logger or log-req-route, the request lines those take are one JSON object each (the output shape of log-encoder = json); other encoders are ignored with a notice", setLogReqEncoder),
)

func setLogReqEncoder(l *loader, v string) error {
	if strings.TrimSpace(v) == "json" {
		l.cfg.LogReqJSON = true
		return nil
	}
	l.notice("log-req-encoder "+v, fmt.Sprintf("log-req-encoder = %s: ignored (only a bare json is implemented; request lines stay as they are)", v))
	return nil
}
