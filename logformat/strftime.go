package logformat

import (
	"strconv"
	"time"
)

// Strftime appends t formatted by a C strftime format, in the C locale,
// to b: what uWSGI's %(ltime) and %(ftime) (log-date) print. Conversions
// C99 and POSIX define are supported; an unknown one is copied as is,
// as glibc does.
func Strftime(b []byte, format string, t time.Time) []byte {
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b = append(b, c)
			continue
		}
		i++
		// glibc's flags and width (%-d, %_H, %02d ...) are rare in log
		// dates; E and O modifiers mean nothing in the C locale.
		for i < len(format) && (format[i] == 'E' || format[i] == 'O') {
			i++
		}
		if i == len(format) {
			break
		}
		switch format[i] {
		case 'a':
			b = append(b, t.Weekday().String()[:3]...)
		case 'A':
			b = append(b, t.Weekday().String()...)
		case 'b', 'h':
			b = append(b, t.Month().String()[:3]...)
		case 'B':
			b = append(b, t.Month().String()...)
		case 'c':
			b = t.AppendFormat(b, "Mon Jan _2 15:04:05 2006")
		case 'C':
			b = pad(b, t.Year()/100, 2, '0')
		case 'd':
			b = pad(b, t.Day(), 2, '0')
		case 'D':
			b = t.AppendFormat(b, "01/02/06")
		case 'e':
			b = pad(b, t.Day(), 2, ' ')
		case 'F':
			b = t.AppendFormat(b, "2006-01-02")
		case 'g':
			y, _ := t.ISOWeek()
			b = pad(b, y%100, 2, '0')
		case 'G':
			y, _ := t.ISOWeek()
			b = strconv.AppendInt(b, int64(y), 10)
		case 'H':
			b = pad(b, t.Hour(), 2, '0')
		case 'I':
			b = pad(b, hour12(t), 2, '0')
		case 'j':
			b = pad(b, t.YearDay(), 3, '0')
		case 'k':
			b = pad(b, t.Hour(), 2, ' ')
		case 'l':
			b = pad(b, hour12(t), 2, ' ')
		case 'm':
			b = pad(b, int(t.Month()), 2, '0')
		case 'M':
			b = pad(b, t.Minute(), 2, '0')
		case 'n':
			b = append(b, '\n')
		case 'p':
			b = t.AppendFormat(b, "PM")
		case 'P':
			b = t.AppendFormat(b, "pm")
		case 'r':
			b = t.AppendFormat(b, "03:04:05 PM")
		case 'R':
			b = t.AppendFormat(b, "15:04")
		case 's':
			b = strconv.AppendInt(b, t.Unix(), 10)
		case 'S':
			b = pad(b, t.Second(), 2, '0')
		case 't':
			b = append(b, '\t')
		case 'T':
			b = t.AppendFormat(b, "15:04:05")
		case 'u':
			b = strconv.AppendInt(b, int64((int(t.Weekday())+6)%7+1), 10)
		case 'U':
			b = pad(b, (t.YearDay()+6-int(t.Weekday()))/7, 2, '0')
		case 'V':
			_, w := t.ISOWeek()
			b = pad(b, w, 2, '0')
		case 'w':
			b = strconv.AppendInt(b, int64(t.Weekday()), 10)
		case 'W':
			b = pad(b, (t.YearDay()+6-(int(t.Weekday())+6)%7)/7, 2, '0')
		case 'x':
			b = t.AppendFormat(b, "01/02/06")
		case 'X':
			b = t.AppendFormat(b, "15:04:05")
		case 'y':
			b = pad(b, t.Year()%100, 2, '0')
		case 'Y':
			b = strconv.AppendInt(b, int64(t.Year()), 10)
		case 'z':
			b = t.AppendFormat(b, "-0700")
		case 'Z':
			b = t.AppendFormat(b, "MST")
		case '%':
			b = append(b, '%')
		default:
			b = append(b, '%', format[i])
		}
	}
	return b
}

func hour12(t time.Time) int {
	h := t.Hour() % 12
	if h == 0 {
		h = 12
	}
	return h
}

func pad(b []byte, n, width int, with byte) []byte {
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, with)
	}
	return append(b, s...)
}
