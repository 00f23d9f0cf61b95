package config

// Preload is how Python workers get the app: imported once per
// generation by a zygote the workers fork from (uWSGI's default), or by
// every worker itself (lazy-apps).
type Preload struct {
	// LazyApps: every worker imports the app itself (lazy-apps, lazy).
	LazyApps bool
}

var _ = addOptions(
	works("lazy-apps", []string{"lazy"}, Bool, "false",
		"import the app in every worker instead of once per generation in a zygote the workers fork from "+
			"(more memory, slower respawns; for apps that cannot be forked after import)",
		boolean(func(c *Config) *bool { return &c.Preload.LazyApps })),
)
