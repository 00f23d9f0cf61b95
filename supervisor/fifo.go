package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/master"
)

// openFIFO creates the master FIFO at path (mode 0600, only the master's
// user may command it), replacing a stale one. It is opened read-write so
// writers coming and going never make it read EOF.
func openFIFO(path string) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeNamedPipe == 0 {
			return nil, fmt.Errorf("master-fifo %s: the path exists and is not a FIFO", path)
		}
		os.Remove(path)
	}
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("master-fifo %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil { // mkfifo honours the umask
		return nil, fmt.Errorf("master-fifo %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("master-fifo %s: %w", path, err)
	}
	return f, nil
}

// readFIFO hands every command to the loop: uWSGI's single letters, several
// per write, and supervise's own ":scale N" lines.
func readFIFO(f *os.File, calls chan<- func(), m *master.Master, log hclog.Logger) {
	r := bufio.NewReader(f)
	for {
		c, err := r.ReadByte()
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				log.Error("master FIFO closed", "error", err)
			}
			return
		}
		if c != ':' {
			calls <- func() { m.Command(c) }
			continue
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		n, convErr := strconv.Atoi(strings.TrimSpace(arg))
		if verb != "scale" || convErr != nil {
			log.Warn("unknown master FIFO command; ignored", "command", ":"+strings.TrimSpace(line))
			continue
		}
		calls <- func() { m.Scale(n) }
	}
}
