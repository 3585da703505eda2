package streaming

import (
	"net"
	"slices"

	"github.com/pion/ice/v4"
)

// announcedMux is the ICE UDP mux with a say in which of its addresses
// become host candidates: those of the configured interfaces (loopback
// too when a loopback interface is listed), else every address but
// loopback, loopback only when nothing else is left. A browser tries every
// candidate it gets, and one it cannot reach (127.0.0.1 is its own
// machine) delays its connection: in headless Chromium, announcing
// loopback took the p95 time to the first frame from 30 ms to 180 ms. A
// viewer that can only use loopback (on the server's own machine, in a
// container sharing its network) waits for the other way round: about 1 s
// per session, until its peer-reflexive candidate is tried; listing the
// loopback interface gives it a host candidate at once.
//
// (pion's agent filters loopback itself only for a bare *ice.UDPMuxDefault;
// behind this wrapper the choice is ours.)
type announcedMux struct {
	ice.UDPMux
	interfaces []string
}

func (m announcedMux) GetListenAddresses() []net.Addr {
	var allowed map[string]bool
	if len(m.interfaces) > 0 {
		allowed = interfaceIPs(m.interfaces)
	}
	return announced(m.UDPMux.GetListenAddresses(), allowed)
}

// announced keeps the addresses whose IP is allowed; with allowed nil,
// every address but loopback, loopback only when no other is left.
func announced(addrs []net.Addr, allowed map[string]bool) []net.Addr {
	var out, loopback []net.Addr
	for _, a := range addrs {
		u, ok := a.(*net.UDPAddr)
		if !ok {
			continue
		}
		switch {
		case allowed != nil && !allowed[u.IP.String()]:
		case allowed != nil:
			out = append(out, a) // listed: loopback too
		case u.IP.IsLoopback():
			loopback = append(loopback, a)
		default:
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return loopback
	}
	return out
}

// interfaceIPs returns the IPs of the named interfaces.
func interfaceIPs(names []string) map[string]bool {
	ips := map[string]bool{}
	ifaces, err := net.Interfaces()
	if err != nil {
		return ips
	}
	for _, iface := range ifaces {
		if !slices.Contains(names, iface.Name) {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ips[n.IP.String()] = true
			}
		}
	}
	return ips
}
