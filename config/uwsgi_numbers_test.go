package config

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestNumberWordsMatchUWSGI: a number option given a boolean word reads
// as uWSGI 2.0.21 reads it. uWSGI prints the listen backlog it read
// (listen and cheaper share its setter, uwsgi_opt_set_int), so uwsgi is
// started on a loopback port with listen = WORD, its line is read, and
// it is killed; supervise's cheaper = WORD must be the same number.
func TestNumberWordsMatchUWSGI(t *testing.T) {
	uwsgi := requireUWSGI(t)
	backlog := regexp.MustCompile(`listen backlog is limited to (\d+) connections`)
	for _, word := range []string{"true", "on", "yes", "1", "8"} {
		path := filepath.Join(t.TempDir(), "n.ini")
		if err := os.WriteFile(path, []byte("[uwsgi]\nhttp-socket = 127.0.0.1:0\nlisten = "+word+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(uwsgi, "--ini", path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		found := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if m := backlog.FindStringSubmatch(sc.Text()); m != nil {
					found <- m[1]
					break
				}
			}
			close(found)
		}()
		var got string
		select {
		case got = <-found:
		case <-time.After(30 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // uWSGI reloads on SIGTERM
		cmd.Wait()
		if got == "" {
			t.Fatalf("listen = %s: uwsgi printed no backlog", word)
		}
		want, _ := strconv.Atoi(got)
		c, err := Load([]string{"--cheaper", word, "--processes", "10"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if c.Cheaper != want {
			t.Errorf("%s: uWSGI reads %d, supervise %d", word, want, c.Cheaper)
		}
	}
}
