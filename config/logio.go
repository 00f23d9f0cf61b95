package config

// log-sendfile and log-ioerror: two more of disable-logging's exceptions,
// next to log-4xx and the others in longtail.go (config.LogOnly).
var _ = addOptions(
	works("log-sendfile", nil, Bool, "false", "Python workers: with disable-logging, still log requests whose body went out with sendfile (wsgi.file_wrapper over a real file); Go workers never send with sendfile, so it matches none of theirs", boolean(func(c *Config) *bool { return &c.LogOnly.Sendfile })),
	works("log-ioerror", nil, Bool, "false", "Python and Go workers: with disable-logging, still log requests that had both a read error (the client went away mid-body) and a write error, the pair uWSGI's log-ioerror asks for", boolean(func(c *Config) *bool { return &c.LogOnly.IOError })),
)
