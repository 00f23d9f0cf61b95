package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CronJob is one cron, cron2 or unique-cron entry. Minute, Hour, Day,
// Month and Week are uWSGI's: a value matches itself, -1 is any, -N is
// every N (the field modulo N is 0); Week 0 and 7 are Sunday. When both
// Day and Week are given (not negative) either may match, as in crontab.
type CronJob struct {
	Minute, Hour, Day, Month, Week int
	Command                        string
	Unique                         bool          // not started again while still running
	Harakiri                       time.Duration // killed after this long; 0: never
	Line                           string        // the option as written, for the log
}

// CronJobs are the configured cron entries, cron-harakiri applied.
func (t *Tasks) CronJobs() []CronJob {
	var out []CronJob
	for _, v := range t.Cron {
		j, _ := parseCron(v)
		out = append(out, t.withHarakiri(j, -1, "cron = "+v))
	}
	for _, v := range t.UniqueCron {
		j, _ := parseCron(v)
		j.Unique = true
		out = append(out, t.withHarakiri(j, -1, "unique-cron = "+v))
	}
	for _, v := range t.Cron2 {
		j, harakiri, _ := parseCron2(v)
		out = append(out, t.withHarakiri(j, harakiri, "cron2 = "+v))
	}
	return out
}

// withHarakiri: cron2's harakiri= wins (0 turns it off), else cron-harakiri.
func (t *Tasks) withHarakiri(j CronJob, harakiri int, line string) CronJob {
	j.Line = line
	switch {
	case harakiri > 0:
		j.Harakiri = time.Duration(harakiri) * time.Second
	case harakiri < 0:
		j.Harakiri = t.CronHarakiri
	}
	return j
}

// parseCron reads uWSGI's `MIN HOUR DAY MONTH WEEKDAY COMMAND` (numbers
// only: -1 for any, -N for every N).
func parseCron(v string) (CronJob, error) {
	f := strings.Fields(v)
	if len(f) < 6 {
		return CronJob{}, fmt.Errorf("want MINUTE HOUR DAY MONTH WEEKDAY COMMAND with numbers (-1 any, -5 every 5), for example: -5 -1 -1 -1 -1 /usr/bin/cleanup")
	}
	var n [5]int
	for i := range n {
		x, err := strconv.Atoi(f[i])
		if err != nil {
			return CronJob{}, fmt.Errorf("%q is not a number: uWSGI's cron takes numbers only (-1 for *, -5 for */5)", f[i])
		}
		n[i] = x
	}
	rest := strings.TrimSpace(v)
	for i := 0; i < 5; i++ {
		rest = strings.TrimSpace(rest[len(f[i]):])
	}
	j := CronJob{Minute: n[0], Hour: n[1], Day: n[2], Month: n[3], Week: n[4], Command: rest}
	return j, checkCronRanges(j)
}

func checkCronRanges(j CronJob) error {
	for _, r := range []struct {
		name    string
		v, max  int
		minimum int
	}{{"minute", j.Minute, 59, 0}, {"hour", j.Hour, 23, 0}, {"day", j.Day, 31, 1}, {"month", j.Month, 12, 1}, {"weekday", j.Week, 7, 0}} {
		if r.v == 0 && r.minimum == 1 || r.v > r.max {
			return fmt.Errorf("%s %d is out of range (%d..%d, or -N for every N)", r.name, r.v, r.minimum, r.max)
		}
	}
	return nil
}

// parseCron2 reads `key=val,... COMMAND` (minute, hour, day, month, week,
// unique, harakiri; legion is refused). harakiri is -1 when not given.
func parseCron2(v string) (CronJob, int, error) {
	j := CronJob{Minute: -1, Hour: -1, Day: -1, Month: -1, Week: -1}
	harakiri := -1
	keys, command, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.Contains(keys, "=") {
		if strings.Contains(v, "=") && !ok {
			return j, 0, fmt.Errorf("want key=value,... COMMAND")
		}
		keys, command = "", strings.TrimSpace(v)
	}
	j.Command = strings.TrimSpace(command)
	if j.Command == "" {
		return j, 0, fmt.Errorf("no command")
	}
	if keys != "" {
		for _, kv := range strings.Split(keys, ",") {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				return j, 0, fmt.Errorf("%q: want key=value", kv)
			}
			if k == "legion" {
				return j, 0, fmt.Errorf("refused: legion= runs the command only on a legion's lord, and supervise has no legions (it would run on every node); schedule it on one machine")
			}
			n, err := strconv.Atoi(val)
			if err != nil {
				return j, 0, fmt.Errorf("%s=%q is not a number", k, val)
			}
			switch k {
			case "minute":
				j.Minute = n
			case "hour":
				j.Hour = n
			case "day":
				j.Day = n
			case "month":
				j.Month = n
			case "week":
				j.Week = n
			case "unique":
				j.Unique = n != 0
			case "harakiri":
				harakiri = max(n, 0)
			default:
				return j, 0, fmt.Errorf("unknown key %q (minute, hour, day, month, week, unique, harakiri)", k)
			}
		}
	}
	return j, harakiri, checkCronRanges(j)
}

// Matches reports whether the job is due in t's minute (local time).
func (j CronJob) Matches(t time.Time) bool {
	field := func(want, have int) bool {
		if want < 0 {
			return have%(-want) == 0
		}
		return want == have
	}
	week := j.Week
	if week == 7 {
		week = 0
	}
	day, wday := field(j.Day, t.Day()), field(week, int(t.Weekday()))
	dayOK := day && wday
	if j.Day >= 0 && j.Week >= 0 {
		dayOK = day || wday
	}
	return field(j.Minute, t.Minute()) && field(j.Hour, t.Hour()) && field(j.Month, int(t.Month())) && dayOK
}

func addCron(field func(*Tasks) *[]string, parse func(string) error) func(*loader, string) error {
	return func(l *loader, v string) error {
		if err := parse(v); err != nil {
			return err
		}
		p := field(&l.cfg.Tasks)
		*p = append(*p, v)
		return nil
	}
}
