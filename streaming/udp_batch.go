package streaming

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// batchConn is the WebRTC server's UDP socket with its writes gathered:
// every packet to every viewer (SRTP, RTCP, DTLS, STUN) leaves through
// this one socket, and one sendto per packet per viewer was most of the
// server's CPU (issue 13). Batched, a fanout round's packets go in one
// sendmmsg call, and the packets of one frame to one viewer (equal sizes
// but the last, one destination) in one message with UDP generic
// segmentation offload (UDP_SEGMENT): the kernel walks its send path once
// for the run and cuts it into datagrams at the end (the network card
// does, where it can). The viewer receives the same datagrams either way.
//
// A write copies the packet into the queue and returns. The queue goes
// out when a fanout finishes a round of writes (flush), when it holds
// maxBatch packets, or flushAfter after its first packet, for the writers
// that never flush (NACK resends, RTCP reports, ICE and DTLS): those wait
// at most that long. Reads are the socket's own.
type batchConn struct {
	*net.UDPConn
	pc  *ipv4.PacketConn
	gso atomic.Bool // the kernel takes UDP_SEGMENT on this socket
	// What the batching achieved: packets written, the messages they
	// went in (one per segmented run), the system calls.
	packets, messagesSent, calls atomic.Uint64

	mu sync.Mutex
	// Guarded by mu: the packets not yet handed to the kernel, and
	// whether the timer is armed for them.
	queue []queued
	armed bool
	timer *time.Timer

	// sendMu keeps the batches in order: one flush sends at a time, while
	// writers fill the next queue. The fields after it are its.
	sendMu sync.Mutex
	spare  []queued       // the last batch sent: its buffers are reused
	msgs   []ipv4.Message // the messages of a batch
	runs   []int          // the packets of each message
	iovs   [][]byte       // the buffers of the messages, sliced by msgs
	oob    []byte         // their control messages, sliced by msgs
}

// queued is one packet waiting to be sent.
type queued struct {
	buf  []byte
	to   netip.AddrPort
	addr *net.UDPAddr // to, for the system call; rewritten on reuse
}

const (
	// maxBatch bounds the packets of one flush.
	maxBatch = 64
	// flushAfter is the longest a packet waits for a flush.
	flushAfter = 200 * time.Microsecond
	// packetCap is the buffer kept per queued packet: our packets stay
	// under the 1200-byte MTU pion assumes; a bigger one gets a buffer of
	// its own.
	packetCap = 1500
	// maxSegments and maxGSOBytes bound one segmented message (the
	// kernel's UDP_MAX_SEGMENTS and the largest UDP payload).
	maxSegments = 64
	maxGSOBytes = 65507
)

func newBatchConn(conn *net.UDPConn) *batchConn {
	c := &batchConn{UDPConn: conn, pc: ipv4.NewPacketConn(conn)}
	c.gso.Store(gsoSupported(conn))
	c.timer = time.AfterFunc(time.Hour, c.flush)
	c.timer.Stop()
	return c
}

// gsoSupported asks the kernel whether the socket knows UDP_SEGMENT
// (Linux 4.18 and later).
func gsoSupported(conn *net.UDPConn) bool {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	}); err != nil {
		return false
	}
	return serr == nil
}

// WriteToAddrPort queues b for addr: pion's ICE uses this (allocation
// free) method when the socket has it.
func (c *batchConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	c.mu.Lock()
	var q queued
	if n := len(c.queue); n < cap(c.queue) {
		q = c.queue[:n+1][n] // the slot of an earlier batch: reuse its buffers
	}
	if cap(q.buf) < len(b) {
		q.buf = make([]byte, 0, max(len(b), packetCap))
	}
	q.buf = append(q.buf[:0], b...)
	if q.addr == nil {
		q.addr = &net.UDPAddr{}
	}
	if q.to != addr || len(q.addr.IP) == 0 {
		q.to = addr
		if ip := addr.Addr().Unmap(); ip.Is4() {
			a4 := ip.As4()
			q.addr.IP = append(q.addr.IP[:0], a4[:]...)
		} else {
			q.addr.IP = ip.AsSlice()
		}
		q.addr.Port = int(addr.Port())
	}
	c.queue = append(c.queue, q)
	full := len(c.queue) >= maxBatch
	if !full && !c.armed {
		c.armed = true
		c.timer.Reset(flushAfter)
	}
	c.mu.Unlock()
	if full {
		c.flush()
	}
	return len(b), nil
}

// WriteTo is net.PacketConn's write, for callers without WriteToAddrPort.
func (c *batchConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return c.UDPConn.WriteTo(b, addr)
	}
	return c.WriteToAddrPort(b, ua.AddrPort())
}

// ReadFromAddrPort is the socket's; with WriteToAddrPort it makes pion's
// ICE take its allocation-free path.
func (c *batchConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	return c.ReadFromUDPAddrPort(b)
}

// flush sends what is queued. A packet the kernel refuses (a viewer gone,
// ICMP unreachable reported on the socket) is dropped, as a lost UDP
// packet would be; the rest of the batch still goes.
func (c *batchConn) flush() {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	batch := c.queue
	c.queue = c.spare[:0]
	if c.armed {
		c.armed = false
		c.timer.Stop()
	}
	c.mu.Unlock()
	for rest := batch; len(rest) > 0; {
		msgs, runs := c.messages(rest)
		n, err := c.pc.WriteBatch(msgs, 0)
		c.calls.Add(1)
		if err == nil || n > 0 {
			sent := sum(runs[:n])
			c.packets.Add(uint64(sent))
			c.messagesSent.Add(uint64(n))
			rest = rest[sent:]
			continue
		}
		// msgs[0] failed. If segmented, the device may not take it (the
		// kernel says EIO): send everything unsegmented from now on.
		if runs[0] > 1 && c.gso.Load() && (errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL)) {
			c.gso.Store(false)
			continue
		}
		rest = rest[runs[0]:]
	}
	c.spare = batch
}

// messages builds the system call's messages for the packets to send:
// runs[i] is how many packets msgs[i] carries. Consecutive packets to one
// address, of one size but the last (which may be shorter), go in one
// segmented message.
func (c *batchConn) messages(pkts []queued) (msgs []ipv4.Message, runs []int) {
	c.msgs, c.runs, c.iovs = c.msgs[:0], c.runs[:0], c.iovs[:0]
	space := unix.CmsgSpace(2)
	// Room for every message's control message: oob must not move while
	// msgs slice it.
	if cap(c.oob) < len(pkts)*space {
		c.oob = make([]byte, 0, len(pkts)*space)
	}
	c.oob = c.oob[:0]
	gso := c.gso.Load()
	for i := 0; i < len(pkts); {
		size, j, total := len(pkts[i].buf), i+1, len(pkts[i].buf)
		if gso {
			for j < len(pkts) && j-i < maxSegments && pkts[j].to == pkts[i].to &&
				len(pkts[j].buf) <= size && len(pkts[j-1].buf) == size && total+len(pkts[j].buf) <= maxGSOBytes {
				total += len(pkts[j].buf)
				j++
			}
		}
		first := len(c.iovs)
		for _, p := range pkts[i:j] {
			c.iovs = append(c.iovs, p.buf)
		}
		m := ipv4.Message{Buffers: c.iovs[first:len(c.iovs):len(c.iovs)], Addr: pkts[i].addr}
		if j-i > 1 {
			at := len(c.oob)
			c.oob = c.oob[:at+space]
			m.OOB = segmentSize(c.oob[at:at+space:at+space], size)
		}
		c.runs = append(c.runs, j-i)
		c.msgs = append(c.msgs, m)
		i = j
	}
	return c.msgs, c.runs
}

// segmentSize fills b (unix.CmsgSpace(2) bytes) with the control message
// that asks the kernel to cut a message into datagrams of size bytes (the
// last may be shorter).
func segmentSize(b []byte, size int) []byte {
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = uint16(size)
	return b
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

// SendStats is what the send batching did (see batchConn).
type SendStats struct {
	// Packets were sent in Messages (a segmented run of packets to one
	// viewer is one) in Calls system calls.
	Packets, Messages, Calls uint64
	// Segmentation tells whether the kernel cuts runs (UDP_SEGMENT).
	Segmentation bool
}

func (c *batchConn) stats() SendStats {
	return SendStats{Packets: c.packets.Load(), Messages: c.messagesSent.Load(), Calls: c.calls.Load(), Segmentation: c.gso.Load()}
}

// Close flushes what is queued, then closes the socket.
func (c *batchConn) Close() error {
	c.flush()
	c.timer.Stop()
	return c.UDPConn.Close()
}
