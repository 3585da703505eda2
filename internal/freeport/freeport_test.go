package freeport

import (
	"io"
	"net"
	"strconv"
	"testing"
)

func TestPortsAreFreeAndBelowTheEphemeralRange(t *testing.T) {
	for range 20 {
		p, err := TCP()
		if err != nil {
			t.Fatal(err)
		}
		if p < low || p >= high {
			t.Fatalf("TCP port %d outside [%d, %d)", p, low, high)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()

		u, err := UDP()
		if err != nil {
			t.Fatal(err)
		}
		if u < low || u >= high {
			t.Fatalf("UDP port %d outside [%d, %d)", u, low, high)
		}
	}
}

func TestTakenPortIsNotReturned(t *testing.T) {
	// Hold most of a small range and check find skips what is held: with
	// the real range that would take too many sockets, so bind is faked
	// to fail for every even port.
	seen := 0
	p, err := find(func(addr string) (io.Closer, error) {
		_, ps, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(ps)
		seen++
		if n%2 == 0 {
			return nil, &net.OpError{Op: "listen", Err: errInUse{}}
		}
		return io.NopCloser(nil), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if p%2 == 0 {
		t.Fatalf("got taken port %d", p)
	}
	if seen == 0 {
		t.Fatal("bind never called")
	}
}

type errInUse struct{}

func (errInUse) Error() string { return "address already in use" }
