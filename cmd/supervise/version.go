package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/supervise-go/supervise/stats"
)

// Packagers who build outside a module download or a git checkout set
// these: go build -ldflags "-X main.version=v0.1.0 -X main.revision=abc1234".
var version, revision string

func init() {
	v, _ := describeBuild(debug.ReadBuildInfo())
	stats.Version = "supervise-" + v // the stats document's "version"
}

// describeBuild is the version and VCS revision: the -ldflags values when
// set, else the build info (the module version for `go install
// ...@v0.1.0`, vcs.revision for a build in a git checkout).
func describeBuild(info *debug.BuildInfo, ok bool) (ver, rev string) {
	ver, rev = version, revision
	if ok && ver == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		ver = info.Main.Version
	}
	if ok && rev == "" {
		modified := false
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" && modified {
			rev += "-modified"
		}
	}
	if ver == "" {
		ver = "devel"
	}
	if rev == "" {
		rev = "unknown"
	}
	return ver, rev
}

func versionLine() string {
	ver, rev := describeBuild(debug.ReadBuildInfo())
	return fmt.Sprintf("supervise %s (revision %s, %s)", ver, rev, runtime.Version())
}
