package ipc

import "os"

// WatchLifeline calls gone once the master's end of the lifeline pipe
// (env's EnvLifelineFD) closes, however the master died. Workers and
// the HTTP front end exit then. Without a lifeline (not started by a
// master) it does nothing.
func WatchLifeline(env Env, gone func()) {
	fd, ok := env.LifelineFD()
	if !ok {
		return
	}
	f := os.NewFile(uintptr(fd), "lifeline")
	go func() {
		buf := make([]byte, 1)
		for {
			if _, err := f.Read(buf); err != nil {
				gone()
				return
			}
		}
	}()
}
