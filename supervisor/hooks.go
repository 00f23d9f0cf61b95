package supervisor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/sys/unix"

	"github.com/supervise-go/supervise/config"
)

// hookExit is a hook's exit:N action: the start stops with that code.
type hookExit struct{ code int }

func (e hookExit) Error() string { return fmt.Sprintf("exit:%d", e.code) }

// exitCode is the code a failed phase ends the master with.
func exitCode(err error) int {
	var e hookExit
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// hookRunner runs the actions of hook phases in the master (see
// config/tasks.go for the phases and actions). It is used before the
// loop starts and on the loop's goroutine, never beside the loop's reaper:
// commands are waited for with os/exec.
type hookRunner struct {
	log  hclog.Logger
	sink *LogSink            // command output goes to the log
	cred *syscall.Credential // the workers' user, for the user phases; nil: the master's
	dir  string              // chdir: where commands run
	base []string            // the master's environment less its own contract (NOTIFY_SOCKET, LISTEN_*)
	env  []string            // env options and putenv: for the commands after it
	// putenv also goes to the workers and daemons.
	putenv func(kv string)
	// signal: unix_signal SIGNUM ACTION (the master FIFO letter).
	signal func(sig syscall.Signal, command byte, name string)
}

// run runs a phase's actions in order; the first failure ends it, except
// for as-user-atexit (uWSGI's only non-fatal phase) and safeexec.
func (r *hookRunner) run(phase string, hooks []config.Hook) error {
	for _, h := range hooks {
		r.log.Info("running hook", "phase", phase, "hook", h.String())
		err := r.action(h)
		if err == nil {
			continue
		}
		if phase != config.PhaseAtexit {
			return fmt.Errorf("hook-%s %s: %w", phase, h.String(), err)
		}
		r.log.Error("hook failed; going on", "phase", phase, "hook", h.String(), "error", err)
	}
	return nil
}

func (r *hookRunner) action(h config.Hook) error {
	asUser := config.UserPhase(h.Phase) && r.cred != nil && int(r.cred.Uid) != os.Geteuid()
	switch h.Action {
	case "exec", "safeexec":
		err := r.command(h, "/bin/sh", "-c", h.Arg)
		if err != nil && h.Action == "safeexec" {
			r.log.Warn("safeexec command failed; going on", "phase", h.Phase, "error", err)
			return nil
		}
		return err
	case "cd", "chdir":
		return os.Chdir(strings.TrimSpace(h.Arg))
	case "putenv":
		r.env = append(r.env, h.Arg)
		if r.putenv != nil {
			r.putenv(h.Arg)
		}
		return nil
	case "print", "log":
		r.log.Info(h.Arg)
		return nil
	case "exit":
		code, _ := strconv.Atoi(strings.TrimSpace(h.Arg))
		return hookExit{code}
	case "unix_signal":
		f := strings.Fields(h.Arg)
		n, _ := strconv.Atoi(f[0])
		if r.signal != nil {
			r.signal(syscall.Signal(n), config.UnixSignalActions[f[1]], f[1])
		}
		return nil
	case "wait_for_fs", "wait_for_file", "wait_for_dir", "wait_for_socket":
		return waitFor(h.Action, strings.TrimSpace(h.Arg), waitForTimeout)
	}
	if asUser {
		return asFileUser(int(r.cred.Uid), int(r.cred.Gid), func() error { return fileAction(h.Action, h.Arg) })
	}
	return fileAction(h.Action, h.Arg)
}

// command runs a program and waits for it, its output into the log.
func (r *hookRunner) command(h config.Hook, path string, args ...string) error {
	cmd := exec.Command(path, args...)
	cmd.Env = append(append([]string(nil), r.base...), r.env...)
	cmd.Dir = r.dir
	if config.UserPhase(h.Phase) && r.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.cred}
	}
	if r.sink != nil {
		w, err := r.sink.ProcessPipe()
		if err != nil {
			return err
		}
		defer w.Close()
		cmd.Stdout, cmd.Stderr = w, w // an *os.File: Wait does not wait for daemons the command leaves holding it
	}
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("command exited with %s", exit.ProcessState.String())
	}
	return err
}

// asFileUser runs f on a thread of its own whose file-system uid and gid
// are the workers' (setfsuid: files it makes are theirs, and it may touch
// only what they may). The thread is never given back to the runtime.
func asFileUser(uid, gid int, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // not unlocked: the thread ends with the goroutine
		unix.Setfsgid(gid)
		unix.Setfsuid(uid)
		if got, _ := unix.SetfsuidRetUid(-1); got != uid {
			done <- fmt.Errorf("cannot take the workers' uid %d for this action", uid)
			return
		}
		done <- f()
	}()
	return <-done
}

// waitForTimeout is uWSGI's wait-for-fs-timeout and wait-for-socket-timeout default.
const waitForTimeout = 60 * time.Second

// waitFor polls until the path exists (as a file, a directory) or the
// socket accepts, or the timeout passes.
func waitFor(kind, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok := false
		switch kind {
		case "wait_for_socket":
			network := "unix"
			if !strings.HasPrefix(path, "/") && strings.Contains(path, ":") {
				network = "tcp"
			}
			if c, err := net.DialTimeout(network, path, time.Second); err == nil {
				c.Close()
				ok = true
			}
		default:
			st, err := os.Stat(path)
			ok = err == nil && (kind == "wait_for_fs" || (kind == "wait_for_dir") == st.IsDir())
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still missing after %v", path, timeout)
		}
		time.Sleep(100 * time.Millisecond) // polling the file system, as uWSGI does (it sleeps 1 s)
	}
}

// fileAction runs one of uWSGI's file hook actions in this process.
func fileAction(action, arg string) error {
	file, rest, _ := strings.Cut(arg, " ")
	switch action {
	case "mkdir":
		return os.Mkdir(arg, 0o777)
	case "unlink":
		return os.Remove(arg)
	case "create", "creat":
		return writeFileFlags(arg, "", os.O_TRUNC)
	case "write":
		return writeFileFlags(file, rest, os.O_TRUNC)
	case "writen":
		return writeFileFlags(file, rest+"\n", os.O_TRUNC)
	case "append":
		return writeFileFlags(file, rest, os.O_APPEND)
	case "appendn":
		return writeFileFlags(file, rest+"\n", os.O_APPEND)
	case "writefifo":
		f, err := os.OpenFile(file, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if errors.Is(err, syscall.ENXIO) || errors.Is(err, syscall.ENODEV) {
			return nil // nobody reads it: skipped, as in uWSGI
		}
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString(rest)
		return err
	case "chmod":
		mode, err := strconv.ParseUint(strings.TrimSpace(rest), 8, 32)
		if err != nil {
			return err
		}
		return syscall.Chmod(file, uint32(mode))
	case "sticky":
		st, err := os.Stat(arg)
		if err != nil {
			return err
		}
		return os.Chmod(arg, st.Mode()|os.ModeSticky)
	case "chown", "chown2":
		f := strings.Fields(rest)
		if len(f) != 2 {
			return fmt.Errorf("want FILE USER GROUP")
		}
		uid, gid := f[0], f[1]
		if action == "chown" {
			u, err := user.Lookup(f[0])
			if err != nil {
				return err
			}
			g, err := user.LookupGroup(f[1])
			if err != nil {
				return err
			}
			uid, gid = u.Uid, g.Gid
		}
		u, err1 := strconv.Atoi(uid)
		g, err2 := strconv.Atoi(gid)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		return os.Chown(file, u, g)
	}
	return fmt.Errorf("unknown action %q", action)
}

func writeFileFlags(path, text string, flag int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|flag, 0o666)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
