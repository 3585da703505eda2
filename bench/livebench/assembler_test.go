package livebench

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/sunlight-gov/sunlight/internal/whepclient"
	"github.com/sunlight-gov/sunlight/simulator"
)

// testAU is the packets of one access unit, stamped with seq.
func testAU(seq uint64, idr bool, ts uint32) [][]byte {
	sei := simulator.NewSendStampSEI(simulator.SendStamp{Time: time.Unix(100, int64(seq)), Seq: seq})
	if idr {
		slice := append([]byte{0x65}, bytes.Repeat([]byte{0xaa}, 250)...)
		// STAP-A of SPS, PPS and the SEI, then the slice in three FU-As.
		stap := []byte{0x78}
		for _, n := range [][]byte{{0x67, 1, 2}, {0x68, 3}, sei} {
			stap = append(stap, byte(len(n)>>8), byte(len(n)))
			stap = append(stap, n...)
		}
		return append([][]byte{stap}, fuA(slice, 100)...)
	}
	slice := append([]byte{0x41}, bytes.Repeat([]byte{0xbb}, 150)...)
	return append([][]byte{sei}, fuA(slice, 100)...)
}

// fuA cuts a NAL unit into FU-A payloads of at most size bytes of it.
func fuA(nalu []byte, size int) [][]byte {
	var out [][]byte
	body := nalu[1:]
	for i := 0; i < len(body); i += size {
		end := min(i+size, len(body))
		h := nalu[0] & 0x1f
		if i == 0 {
			h |= 0x80
		}
		if end == len(body) {
			h |= 0x40
		}
		out = append(out, append([]byte{nalu[0]&0xe0 | nalFUA, h}, body[i:end]...))
	}
	return out
}

// testStream is the RTP packets of frames 0..n-1, an IDR first.
func testStream(n int) []*rtp.Packet {
	var pkts []*rtp.Packet
	seq := uint16(65530) // wraps
	for f := range n {
		payloads := testAU(uint64(f), f == 0, uint32(f*6000))
		for i, pl := range payloads {
			pkts = append(pkts, &rtp.Packet{
				Header:  rtp.Header{SequenceNumber: seq, Timestamp: uint32(f * 6000), Marker: i == len(payloads)-1},
				Payload: pl,
			})
			seq++
		}
	}
	return pkts
}

func TestAssembler(t *testing.T) {
	// Frame 0 (IDR): packets 0-3; frame 1: 4-6; frame 2: 7-9; frame 3: 10-12.
	for _, tc := range []struct {
		name   string
		edit   func([]*rtp.Packet) []*rtp.Packet
		frames []uint64
		lost   uint64
		dups   uint64
	}{
		{name: "in order", frames: []uint64{0, 1, 2, 3}},
		{name: "reordered", frames: []uint64{0, 1, 2, 3}, edit: func(p []*rtp.Packet) []*rtp.Packet {
			p[1], p[3] = p[3], p[1]
			p[5], p[8] = p[8], p[5]
			return p
		}},
		{name: "duplicate", frames: []uint64{0, 1, 2, 3}, dups: 2, edit: func(p []*rtp.Packet) []*rtp.Packet {
			return append(p[:6:6], append([]*rtp.Packet{p[5], p[2]}, p[6:]...)...)
		}},
		{name: "fragment lost", frames: []uint64{0, 2, 3}, lost: 1, edit: drop(5)},
		{name: "marker lost", frames: []uint64{0, 2, 3}, lost: 1, edit: drop(6)},
		{name: "SEI lost", frames: []uint64{0, 2, 3}, lost: 1, edit: drop(4)},
		{name: "frame lost", frames: []uint64{0, 1, 3}, lost: 3, edit: drop(7, 8, 9)},
		{name: "tail and head lost", frames: []uint64{0, 3}, lost: 2, edit: drop(6, 7)},
		{name: "parameter sets lost", frames: []uint64{1, 2, 3}, edit: drop(0)}, // before the first packet: unseen
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts := testStream(4)
			if tc.edit != nil {
				pkts = tc.edit(pkts)
			}
			var got []uint64
			clock := time.Unix(1000, 0)
			a := newAssembler(func(f frameRec) {
				got = append(got, f.Seq)
				if f.Sent != time.Unix(100, int64(f.Seq)).UnixNano() || f.Arrived != clock.UnixNano() {
					t.Errorf("frame %d: sent %d arrived %d", f.Seq, f.Sent, f.Arrived)
				}
				if f.IDR != (f.Seq == 0) {
					t.Errorf("frame %d: IDR %v", f.Seq, f.IDR)
				}
			})
			now := func() time.Time { return clock }
			r := whepclient.NewReorderer(func(p *rtp.Packet, gap bool) { a.process(p, gap, now()) }, now)
			for _, p := range pkts {
				clock = clock.Add(10 * time.Millisecond)
				r.Push(p)
			}
			// A later packet: the holes before it are given up after
			// HoleTimeout (its own is not, yet).
			clock = clock.Add(whepclient.HoleTimeout)
			r.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: pkts[len(pkts)-1].SequenceNumber + 100, Timestamp: 1 << 30}, Payload: []byte{0x41}})
			if !equal(got, tc.frames) {
				t.Errorf("frames %v, want %v", got, tc.frames)
			}
			if st := r.Stats(); st.LostPackets != tc.lost || st.Duplicates != tc.dups {
				t.Errorf("stats %+v, want %d lost, %d duplicates", st, tc.lost, tc.dups)
			}
		})
	}
}

func drop(idx ...int) func([]*rtp.Packet) []*rtp.Packet {
	return func(p []*rtp.Packet) []*rtp.Packet {
		var out []*rtp.Packet
		for i, q := range p {
			skip := false
			for _, j := range idx {
				skip = skip || i == j
			}
			if !skip {
				out = append(out, q)
			}
		}
		return out
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestParseProcStat(t *testing.T) {
	line := "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 0 0 20 0 9 0 1000 1000000 500 18446744073709551615"
	got, err := parseProcStat(line)
	if err != nil || got != 3800*time.Millisecond {
		t.Fatalf("got %v, %v; want 3.8s", got, err)
	}
	if _, err := parseProcStat("4242 (x) S 1 2"); err == nil {
		t.Fatal("a short line parsed")
	}
	if d, err := procCPU(1); err != nil || d < 0 {
		t.Fatalf("procCPU(1) = %v, %v", d, err)
	}
}

func TestQuantiles(t *testing.T) {
	var v []float64
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i))
	}
	q := quantilesOf(v)
	if q.N != 100 || q.P50 != 50 || q.P95 != 95 || q.P99 != 99 || q.Max != 100 {
		t.Fatalf("%+v", q)
	}
	if q := quantilesOf([]float64{math.Pi}); q.P50 != math.Pi || q.P99 != math.Pi {
		t.Fatalf("%+v", q)
	}
	if q := quantilesOf(nil); q.N != 0 {
		t.Fatalf("%+v", q)
	}
}
