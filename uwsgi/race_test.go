//go:build race

package uwsgi

const raceEnabled = true
