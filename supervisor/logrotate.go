package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// rotation is log-maxsize with log-backupname, as in uWSGI: once the log
// file grows past maxsize bytes it is renamed (to backupname, or to
// "<logto>.<unix time>" without one) and a new, empty file takes its place.
type rotation struct {
	maxsize int64
	backup  string
	now     func() time.Time
}

// SetRotation turns on rotation by size; maxsize 0 turns it off. It
// applies only to a log file (logto), not to stderr.
func (s *LogSink) SetRotation(maxsize int64, backup string) {
	s.mu.Lock()
	s.rot = rotation{maxsize: maxsize, backup: backup, now: time.Now}
	s.mu.Unlock()
}

// due is true when the file may have outgrown maxsize. The count is only
// a hint (copytruncate empties the file behind the sink's back), so
// rotateLocked checks the file's real size.
func (r rotation) due(written int64) bool {
	return r.maxsize > 0 && written > r.maxsize
}

// rotateLocked renames the log file and opens a new one; s.mu is held.
// The old file ends with a line saying where the log continues, as
// uWSGI's "logsize: N, triggering rotation to ..." does.
func (s *LogSink) rotateLocked() {
	if s.path == "" || s.f == os.Stderr {
		s.rot.maxsize = 0
		return
	}
	size := fileSize(s.f)
	s.written = size
	if size <= s.rot.maxsize {
		return
	}
	now := s.rot.now()
	to := s.rot.backup
	if to == "" {
		to = s.path + "." + strconv.FormatInt(now.Unix(), 10)
	}
	if s.json {
		s.f.Write(appendJSONLine(nil, "info", "supervise.log", "log-maxsize reached, rotating", now, "size", size, "rotated_to", to))
	} else {
		fmt.Fprintf(s.f, "%s [INFO]  supervise.log: log-maxsize reached, rotating: size=%d rotated_to=%s\n",
			now.Format(LogTimeFormat), size, to)
	}
	if err := os.Rename(s.path, to); err != nil {
		fmt.Fprintf(s.f, "%s [ERROR] supervise.log: cannot rotate the log (check log-backupname's directory): error=%q\n",
			now.Format(LogTimeFormat), err.Error())
		s.written = 0 // try again after another maxsize
		return
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o640)
	if err != nil {
		return // keep writing to the renamed file rather than lose lines
	}
	s.f.Close()
	s.f = f
	s.written = 0
}
