package frontend

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustedProxies are the peers whose X-Forwarded-For and X-Forwarded-Proto
// are believed (nginx's set_real_ip_from with real_ip_recursive on).
// Anyone else's are passed on as plain HTTP_X_FORWARDED_* headers and
// change nothing.
type TrustedProxies []netip.Prefix

// ParseTrustedProxy reads a CIDR ("10.0.0.0/8") or a bare address.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("trusted-proxy %q: %w (want a CIDR such as 10.0.0.0/8 or an address)", s, err)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("trusted-proxy %q: %w (want a CIDR such as 10.0.0.0/8 or an address)", s, err)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func (t TrustedProxies) trusts(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// apply rewrites c from a trusted peer's forwarding headers: the client is
// the rightmost X-Forwarded-For address that is not itself a trusted
// proxy, and X-Forwarded-Proto (http or https) sets the scheme. It reports
// whether c changed, so the caller knows to copy c first.
func (t TrustedProxies) apply(c *connInfo, h http.Header) (connInfo, bool) {
	out := *c
	if len(t) == 0 || !t.trusts(c.RemoteAddr) {
		return out, false
	}
	changed := false
	if xff := h["X-Forwarded-For"]; len(xff) > 0 {
		if client, ok := t.client(xff); ok {
			out.RemoteAddr, out.RemotePort = client, ""
			changed = true
		}
	}
	if proto := h.Get("X-Forwarded-Proto"); proto != "" {
		switch strings.ToLower(strings.TrimSpace(proto)) {
		case "https":
			out.HTTPS, changed = true, true
		case "http":
			out.HTTPS, changed = false, true
		}
	}
	return out, changed
}

// client walks the X-Forwarded-For lists from the right.
func (t TrustedProxies) client(lists []string) (string, bool) {
	last := ""
	for i := len(lists) - 1; i >= 0; i-- {
		rest := lists[i]
		for rest != "" {
			var hop string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				hop, rest = rest[j+1:], rest[:j]
			} else {
				hop, rest = rest, ""
			}
			hop = strings.TrimSpace(hop)
			if hop == "" {
				continue
			}
			a, err := netip.ParseAddr(hop)
			if err != nil {
				// "1.2.3.4:5678" or "[::1]:80": some proxies add the port.
				ap, perr := netip.ParseAddrPort(hop)
				if perr != nil {
					return last, last != "" // garbage: stop at the last good hop
				}
				a = ap.Addr()
			}
			last = a.Unmap().String()
			if !t.trusts(last) {
				return last, true
			}
		}
	}
	return last, last != ""
}

// newConnInfo splits the connection's addresses once per connection.
func newConnInfo(c net.Conn, https bool) *connInfo {
	info := &connInfo{HTTPS: https}
	info.RemoteAddr, info.RemotePort = splitAddr(c.RemoteAddr())
	info.ServerAddr, info.ServerPort = splitAddr(c.LocalAddr())
	return info
}

func splitAddr(a net.Addr) (host, port string) {
	if a == nil {
		return "", ""
	}
	if a.Network() == "unix" {
		return "unix:", ""
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), ""
	}
	if ap, err := netip.ParseAddr(host); err == nil {
		host = ap.Unmap().String()
	}
	return host, port
}
