package whepclient

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// testPackets is three access units packetized as pion does (MTU 14):
// an IDR (a STAP-A of SPS and PPS, then the slice in three FU-As), and
// two slices (two FU-As each). Sequence numbers wrap.
func testPackets() []*rtp.Packet {
	var pkts []*rtp.Packet
	seq := uint16(65534)
	payloader := &codecs.H264Payloader{}
	add := func(ts uint32, annexB []byte) {
		payloads := payloader.Payload(14, annexB)
		for i, pl := range payloads {
			pkts = append(pkts, &rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: ts, Marker: i == len(payloads)-1}, Payload: pl})
			seq++
		}
	}
	start := []byte{0, 0, 0, 1}
	add(0, slices.Concat(start, []byte{0x67, 1, 2}, start, []byte{0x68, 3}, start, []byte{0x65}, bytes.Repeat([]byte{0xaa}, 30)))
	add(6000, slices.Concat(start, []byte{0x41}, bytes.Repeat([]byte{0xbb}, 20)))
	add(12000, slices.Concat(start, []byte{0x41}, bytes.Repeat([]byte{0xcc}, 20)))
	return pkts
}

func TestReorderAndAssemble(t *testing.T) {
	// Packets: IDR 0-3, slice 4-5, slice 6-7.
	if n := len(testPackets()); n != 8 {
		t.Fatalf("%d test packets, want 8", n)
	}
	for _, tc := range []struct {
		name  string
		order []int    // indexes of testPackets, as they arrive
		units []string // each unit's RTP timestamp and whether it is complete
		lost  uint64
		dups  uint64
	}{
		{name: "in order", order: []int{0, 1, 2, 3, 4, 5, 6, 7}, units: []string{"0 ok", "6000 ok", "12000 ok"}},
		{name: "reordered", order: []int{0, 2, 1, 3, 5, 4, 7, 6}, units: []string{"0 ok", "6000 ok", "12000 ok"}},
		{name: "retransmitted late", order: []int{0, 1, 3, 4, 5, 2, 6, 7}, units: []string{"0 ok", "6000 ok", "12000 ok"}},
		{name: "duplicates", order: []int{0, 1, 1, 2, 3, 4, 5, 0, 6, 7}, units: []string{"0 ok", "6000 ok", "12000 ok"}, dups: 2},
		{name: "fragment lost", order: []int{0, 1, 2, 3, 5, 6, 7}, units: []string{"0 ok", "6000 broken", "12000 ok"}, lost: 1},
		// The hole ends unit 1 and comes just before unit 2: the packet
		// lost could have been unit 2's first, so neither is complete.
		{name: "marker lost", order: []int{0, 1, 2, 3, 4, 6, 7}, units: []string{"0 ok", "6000 broken", "12000 broken"}, lost: 1},
		{name: "unit lost", order: []int{0, 1, 2, 3, 6, 7}, units: []string{"0 ok", "12000 broken"}, lost: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pkts := testPackets()
			clock := time.Unix(1000, 0)
			var got []AU
			b := &unitBuilder{out: func(au AU) { got = append(got, au) }}
			r := NewReorderer(b.packet, func() time.Time { return clock })
			for _, i := range tc.order {
				clock = clock.Add(time.Millisecond)
				r.Push(pkts[i])
			}
			// A later packet gives up the holes before it.
			clock = clock.Add(HoleTimeout)
			last := pkts[len(pkts)-1]
			r.Push(&rtp.Packet{Header: rtp.Header{SequenceNumber: last.SequenceNumber + 3, Timestamp: 1 << 30}, Payload: []byte{0x41}})
			var units []string
			for _, au := range got {
				state := "broken"
				if au.Complete {
					state = "ok"
				}
				units = append(units, fmt.Sprintf("%d %s", au.RTPTimestamp, state))
			}
			if !slices.Equal(units, tc.units) {
				t.Fatalf("units %q, want %q", units, tc.units)
			}
			if !got[0].IDR || !bytes.Equal(got[0].NALTypes, []byte{NALSPS, NALPPS, NALIDR}) {
				t.Errorf("first unit: IDR %v, NAL types %v", got[0].IDR, got[0].NALTypes)
			}
			if tc.units[1] == "6000 ok" && (got[1].IDR || !bytes.Equal(got[1].NALTypes, []byte{NALSlice}) ||
				!bytes.Contains(got[1].AnnexB, append([]byte{0, 0, 0, 1, 0x41}, bytes.Repeat([]byte{0xbb}, 20)...))) {
				t.Errorf("second unit: %+v", got[1])
			}
			if st := r.Stats(); st.LostPackets != tc.lost || st.Duplicates != tc.dups || st.Packets != uint64(len(tc.order)+1) {
				t.Errorf("stats %+v, want %d lost, %d duplicates, %d packets", st, tc.lost, tc.dups, len(tc.order)+1)
			}
		})
	}
}
