package chaos

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// AcceptedConns is the failure bound of the kill storm: it must count the
// connections a process accepted on one socket, and nothing else.
func TestAcceptedConnsCountsOnlyThatSocketsAcceptedConnections(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	other, err := net.Listen("unix", filepath.Join(dir, "other.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if n := AcceptedConns(os.Getpid(), path); n != 0 {
		t.Fatalf("%d before any connection", n)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		s, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c, s)
	}
	c, _ := net.Dial("unix", filepath.Join(dir, "other.sock"))
	s, _ := other.Accept()
	conns = append(conns, c, s)
	// The client ends are ours too but carry no path: only the 3 accepted count.
	if n := AcceptedConns(os.Getpid(), path); n != 3 {
		t.Fatalf("AcceptedConns = %d, want 3", n)
	}
}

func TestChildrenAndZombies(t *testing.T) {
	cmd := exec.Command("/bin/true")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	for i := 0; len(Zombies(os.Getpid())) == 0; i++ { // exits at once; unreaped it is a zombie
		if i > 10000 {
			t.Fatal("the child never became a zombie")
		}
		time.Sleep(time.Millisecond) // polling /proc: no event for another process's state
	}
	if z := Zombies(os.Getpid()); len(z) != 1 || z[0] != pid || Alive(pid) {
		t.Fatalf("zombies %v, want [%d]", z, pid)
	}
	cmd.Wait()
	if len(Children(os.Getpid())) != 0 {
		t.Fatal("a reaped child is still listed")
	}
}
