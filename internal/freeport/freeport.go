// Package freeport finds loopback ports for the servers tests and
// benchmarks start (ClickHouse, sunlight serve, simulated cameras).
//
// A port the kernel hands out for "127.0.0.1:0" lies in its ephemeral
// range (32768-60999 on Linux), where it also picks the local ports of
// outgoing connections: between finding the port and the server binding
// it, one of the many connections a test run opens (to ClickHouse, to the
// cameras) can take it, and the server fails with "address already in
// use". So ports are drawn at random below that range, and each is
// checked by binding it.
package freeport

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
)

// low and high bound the ports drawn: above the well-known and most
// registered service ports, below Linux's default ephemeral range.
const low, high = 20000, 32768

// TCP returns a TCP port on 127.0.0.1 that was free a moment ago.
func TCP() (int, error) {
	return find(func(addr string) (io.Closer, error) { return net.Listen("tcp", addr) })
}

// UDP returns a UDP port on 127.0.0.1 that was free a moment ago.
func UDP() (int, error) {
	return find(func(addr string) (io.Closer, error) { return net.ListenPacket("udp", addr) })
}

// find draws ports until bind succeeds on one, and closes what it bound.
func find(bind func(addr string) (io.Closer, error)) (int, error) {
	var last error
	for range 100 {
		p := low + rand.IntN(high-low)
		c, err := bind(net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			last = err
			continue
		}
		if err := c.Close(); err != nil {
			return 0, fmt.Errorf("freeport: %w", err)
		}
		return p, nil
	}
	return 0, errors.Join(errors.New("freeport: no free port found in 100 tries"), last)
}
