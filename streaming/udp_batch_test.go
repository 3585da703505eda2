package streaming

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func listenLoopback(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// packet is a datagram of size bytes that names itself: to and i.
func testPacket(to, i, size int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, size)
	copy(b, fmt.Sprintf("%d/%d;", to, i))
	return b
}

// TestBatchConnDelivers sends what a fanout round sends (runs of
// equal-size packets, a shorter last one, to viewers in turn, and small
// packets between) through a real socket, and checks that every viewer
// receives exactly its datagrams, whole and in order, whether the kernel
// segments the runs or not.
func TestBatchConnDelivers(t *testing.T) {
	for _, gso := range []bool{true, false} {
		t.Run(fmt.Sprintf("segmentation=%v", gso), func(t *testing.T) {
			raw := listenLoopback(t)
			c := newBatchConn(raw)
			if gso && !c.gso.Load() {
				t.Skip("the kernel has no UDP_SEGMENT")
			}
			c.gso.Store(gso)
			viewers := []*net.UDPConn{listenLoopback(t), listenLoopback(t), listenLoopback(t)}
			want := make([][][]byte, len(viewers))
			// Three rounds: a frame of 5 × 1188 + 431 bytes to each viewer
			// with a 60-byte packet (an RTCP report) between; one viewer
			// gets a lone packet; and a run longer than a batch.
			sizes := [][]int{{1188, 1188, 1188, 1188, 1188, 431}, {60}, {1188, 1188}, {900}}
			n := 0
			for round := 0; round < 3; round++ {
				for v, conn := range viewers {
					to := conn.LocalAddr().(*net.UDPAddr).AddrPort()
					for _, s := range sizes[(round+v)%len(sizes)] {
						p := testPacket(v, n, s)
						n++
						want[v] = append(want[v], p)
						_, err := c.WriteToAddrPort(p, to)
						require.NoError(t, err)
					}
				}
				c.flush()
			}
			long := viewers[0].LocalAddr().(*net.UDPAddr).AddrPort()
			for range maxBatch + 10 { // a flush at maxBatch, the rest by the timer
				p := testPacket(0, n, 1000)
				n++
				want[0] = append(want[0], p)
				_, err := c.WriteTo(p, net.UDPAddrFromAddrPort(long))
				require.NoError(t, err)
			}
			for v, conn := range viewers {
				buf := make([]byte, 2048)
				for i, w := range want[v] {
					require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
					k, err := conn.Read(buf)
					require.NoError(t, err, "viewer %d, datagram %d of %d", v, i, len(want[v]))
					require.Equal(t, w, buf[:k], "viewer %d, datagram %d", v, i)
				}
			}
			c.flush() // waits for the timer's flush to count its packets
			st := c.stats()
			require.Equal(t, uint64(n), st.Packets)
			if gso {
				require.Less(t, st.Messages, st.Packets, "runs go as one segmented message")
			} else {
				require.Equal(t, st.Packets, st.Messages)
			}
			require.Less(t, st.Calls, st.Messages, "several messages per system call")
			require.NoError(t, c.Close())
		})
	}
}

// TestBatchMessages checks how packets are cut into messages: a run to
// one address whose packets have one size, the last maybe shorter.
func TestBatchMessages(t *testing.T) {
	a := netip.MustParseAddrPort("127.0.0.1:1000")
	b := netip.MustParseAddrPort("127.0.0.1:2000")
	q := func(to netip.AddrPort, size int) queued {
		return queued{buf: make([]byte, size), to: to, addr: net.UDPAddrFromAddrPort(to)}
	}
	c := &batchConn{}
	c.gso.Store(true)
	pkts := []queued{q(a, 100), q(a, 100), q(a, 40), q(a, 100), q(b, 100), q(b, 200), q(b, 200), q(a, 50), q(a, 50)}
	_, runs := c.messages(pkts)
	// a: 100 100 40 | a: 100 | b: 100 | b: 200 200 | a: 50 50
	require.Equal(t, []int{3, 1, 1, 2, 2}, runs)

	var many []queued
	for range maxSegments + 3 {
		many = append(many, q(a, 1000))
	}
	msgs, runs := c.messages(many)
	require.Equal(t, []int{maxSegments, 3}, runs, "at most maxSegments per message")
	require.NotNil(t, msgs[0].OOB)

	c.gso.Store(false)
	_, runs = c.messages(pkts)
	require.Len(t, runs, len(pkts))
}
