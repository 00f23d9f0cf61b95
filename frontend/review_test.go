package frontend

import (
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// handOff closes the client socket's descriptor once: a second close
// would close whatever descriptor took its number meanwhile (another
// loop's new connection, a worker socket).
func TestHandOffClosesTheClientSocketOnce(t *testing.T) {
	s := &Server{handoff: newHandoffListener(nil)}
	defer s.handoff.Close()
	go func() {
		for {
			c, err := s.handoff.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	var devnull unix.Stat_t
	if err := unix.Stat("/dev/null", &devnull); err != nil {
		t.Fatal(err)
	}
	// Another thread opens and checks descriptors meanwhile, as a loop
	// accepting connections would.
	var stop, victim atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				continue
			}
			ok := true
			for i := 0; i < 20 && ok; i++ {
				var st unix.Stat_t
				ok = unix.Fstat(fd, &st) == nil && st.Ino == devnull.Ino && st.Dev == devnull.Dev
			}
			if !ok {
				victim.Store(true) // not ours to close any more
				continue
			}
			unix.Close(fd)
		}
	}()
	for i := 0; i < 20000 && !victim.Load(); i++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		s.handOff(fds[0], nil, Conn{}, nil)
		unix.Close(fds[1])
	}
	stop.Store(true)
	<-done
	if victim.Load() {
		t.Fatal("handOff closed a descriptor that was not its own any more")
	}
}
