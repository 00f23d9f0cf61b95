package signals

import "time"

// Cron is one add_cron entry: uWSGI's five fields, where -1 is "every"
// and -N is "every N" (the field's value modulo N is 0); 7 is also
// Sunday. Day of month and day of week are ORed when both are set (>= 0),
// as in crontab.
type Cron struct {
	Minute, Hour, Day, Month, Weekday int
}

// Matches reports whether t (in its own location: the master's local
// time, as uWSGI's localtime) is a minute this entry fires in. It is
// uWSGI 2.0's uwsgi_cron_task_needs_execution, field by field; months
// count from 1.
func (c Cron) Matches(t time.Time) bool {
	min, hour, mday, mon, wday := t.Minute(), t.Hour(), t.Day(), int(t.Month()), int(t.Weekday())
	want := func(field, now int) int {
		if field < 0 && now%(-field) == 0 {
			return now
		}
		return field
	}
	week := c.Weekday
	if week == 7 {
		week = 0
	}
	uMin, uHour, uDay, uMon, uWeek := want(c.Minute, min), want(c.Hour, hour), want(c.Day, mday), want(c.Month, mon), want(week, wday)
	if min != uMin || hour != uHour || mon != uMon {
		return false
	}
	if c.Day >= 0 && c.Weekday >= 0 {
		return mday == uDay || wday == uWeek
	}
	return mday == uDay && wday == uWeek
}
