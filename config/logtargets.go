package config

// LogTargets are settings of the logger option's targets.
type LogTargets struct {
	// SyslogSocket is the syslog daemon's socket logger = syslog writes
	// to ("": /dev/log, as C's syslog()).
	SyslogSocket string
	// LogRoutes are log-route's "NAME REGEXP": lines that go to a named
	// logger instead.
	LogRoutes []string
}

var _ = addOptions(
	works("syslog-socket", nil, String, "/dev/log", "supervise: the syslog daemon's unix datagram socket that logger = syslog writes to (journald's is /run/systemd/journal/dev-log)",
		str(func(c *Config) *string { return &c.SyslogSocket })),
	works("log-route", nil, List, "", "NAME REGEXP: every line the regexp (Go's syntax, PCRE's common subset) matches goes to the logger named NAME (logger = NAME TARGET) and nowhere else (repeatable; read at start)",
		list(func(c *Config) *[]string { return &c.LogRoutes })),
)
