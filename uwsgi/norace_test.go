//go:build !race

package uwsgi

const raceEnabled = false
