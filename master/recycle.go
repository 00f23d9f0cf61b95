package master

import (
	"fmt"
	"time"
)

// rssInterval is how often a worker's memory is read for reload-on-rss.
const rssInterval = time.Second

// recycle replaces a worker that reached max-requests or reload-on-rss:
// a replacement starts in its slot and the worker is stopped gracefully
// once the replacement is ready, so no request fails and the pool never
// shrinks (memory leaks in long-lived workers are the usual reason).
// evil-reload-on-rss kills at once instead. min-worker-lifetime protects
// young workers from all three, as in uWSGI.
func (m *Master) recycle(w *worker, now time.Time) {
	if m.phase != running || w.State != Ready || w.Retiring || w.Killed || now.Sub(w.Started) < m.plan.MinLifetime {
		return
	}
	s := m.slot(w.ID)
	if s == nil || s.Current != w {
		return
	}
	if why := m.overRequests(w); why != "" {
		m.retire(s, w, now, why)
		return
	}
	rss, ok := m.checkRSS(w, now)
	if !ok {
		return
	}
	mb := rss >> 20
	if evil := m.plan.EvilReloadOnRSS; evil > 0 && rss >= evil {
		m.log.Warn("worker passed evil-reload-on-rss; killing it", "id", w.ID, "pid", w.PID, "rss_mb", mb, "limit_mb", evil>>20)
		m.vacate(s, w, now)
		m.kill(w, "")
		return
	}
	if limit := m.plan.ReloadOnRSS; limit > 0 && rss >= limit {
		m.retire(s, w, now, fmt.Sprintf("its memory passed reload-on-rss (%d MB >= %d MB)", mb, limit>>20))
	}
}

func (m *Master) overRequests(w *worker) string {
	if m.plan.MaxRequests <= 0 || m.board == nil || w.BoardSlot < 0 {
		return ""
	}
	limit := uint64(m.plan.MaxRequests + w.ID*m.plan.MaxRequestsDelta)
	if m.board.Requests(w.BoardSlot) < limit {
		return ""
	}
	return fmt.Sprintf("it served max-requests (%d)", limit)
}

// checkRSS reads w's resident memory at most once per rssInterval.
func (m *Master) checkRSS(w *worker, now time.Time) (uint64, bool) {
	if (m.plan.ReloadOnRSS == 0 && m.plan.EvilReloadOnRSS == 0) || m.os.RSS == nil || now.Sub(w.RSSChecked) < rssInterval {
		return 0, false
	}
	w.RSSChecked = now
	rss, err := m.os.RSS(w.PID)
	return rss, err == nil
}

func (m *Master) retire(s *slot, w *worker, now time.Time, why string) {
	m.log.Info("replacing worker: "+why, "id", w.ID, "pid", w.PID)
	w.Retiring = true
	m.vacate(s, w, now)
}
