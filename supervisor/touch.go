package supervisor

import (
	"os"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/supervise-go/supervise/master"
)

// watchTouch reloads when any touch-reload file's mtime changes (touch
// app.ini, or a deploy script touching a marker). Polling once a second
// costs a stat per file; inotify would miss files replaced by rename.
func watchTouch(files []string, calls chan<- func(), m *master.Master, log hclog.Logger, stop <-chan struct{}) {
	mtimes := map[string]time.Time{}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			mtimes[f] = fi.ModTime()
		} else {
			log.Warn("touch-reload file does not exist yet; a reload follows when it appears", "file", f)
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for _, f := range files {
			fi, err := os.Stat(f)
			if err != nil || fi.ModTime().Equal(mtimes[f]) {
				continue
			}
			mtimes[f] = fi.ModTime()
			log.Info("touch-reload: file changed; reloading", "file", f)
			select {
			case calls <- func() { m.Reload() }:
			case <-stop:
				return
			}
		}
	}
}
