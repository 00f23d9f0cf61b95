package socket

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

func bindTCP(addr, proto string, opt Options) (*Listener, error) {
	l := &Listener{Name: addr, Proto: proto, Network: "tcp"}
	sa, family, err := resolveTCP(addr)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket %s: %w", addr, err)
	}
	// SO_REUSEADDR lets a restarted master bind while old connections sit
	// in TIME_WAIT; it does not let two live servers share the port.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("socket %s: SO_REUSEADDR: %w", addr, err)
	}
	if family == unix.AF_INET6 {
		// "[::]:port" means IPv6 only; bind 0.0.0.0 separately for IPv4.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		hint := ""
		if errors.Is(err, unix.EADDRINUSE) {
			hint = " (another server listens there; stop it or pick another port)"
		}
		return nil, fmt.Errorf("bind %s: %w%s", addr, err, hint)
	}
	return listenFD(fd, l, opt.Backlog)
}

// resolveTCP reads "host:port", ":port" (all IPv4 interfaces, as uWSGI)
// and "[v6]:port". Host names are resolved once, at bind time.
func resolveTCP(addr string) (unix.Sockaddr, int, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("socket %q: not a unix path or host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, 0, fmt.Errorf("socket %q: bad port %q", addr, portText)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		ips, lookErr := net.LookupIP(host)
		if lookErr != nil || len(ips) == 0 {
			return nil, 0, fmt.Errorf("socket %q: cannot resolve host %q: %v", addr, host, lookErr)
		}
		ip, _ = netip.AddrFromSlice(ips[0])
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: port, Addr: ip.As4()}, unix.AF_INET, nil
	}
	return &unix.SockaddrInet6{Port: port, Addr: ip.As16()}, unix.AF_INET6, nil
}
