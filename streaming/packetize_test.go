package streaming

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/pion/rtp/codecs"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
)

func nal(header []byte, size int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := append([]byte(nil), header...)
	for len(b) < size {
		b = append(b, byte(r.UintN(256)))
	}
	return b
}

// depacketize runs payloads through pion's depacketizer and returns the
// NAL units it rebuilt.
func depacketize(t *testing.T, codec media.Codec, pkts []Packet) [][]byte {
	t.Helper()
	var out []byte
	if codec == media.H265 {
		d := &codecs.H265Depacketizer{}
		for _, p := range pkts {
			b, err := d.Unmarshal(p.Payload)
			require.NoError(t, err)
			out = append(out, b...)
		}
	} else {
		d := &codecs.H264Packet{}
		for _, p := range pkts {
			b, err := d.Unmarshal(p.Payload)
			require.NoError(t, err)
			out = append(out, b...)
		}
	}
	return splitAnnexB(out)
}

func TestPacketizeRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		codec   media.Codec
		au      [][]byte
		packets int
	}{
		{"h264 one small slice", media.H264, [][]byte{nal([]byte{0x41}, 300, 1)}, 1},
		{"h264 parameter sets and SEI aggregate, IDR fragments", media.H264, [][]byte{
			nal([]byte{0x67, 0x42, 0xc0, 0x1f}, 20, 2), nal([]byte{0x68}, 5, 3), nal([]byte{0x06}, 40, 4),
			nal([]byte{0x65}, 5000, 5),
		}, 1 + 5},
		{"h264 exactly one packet", media.H264, [][]byte{nal([]byte{0x41}, maxPayload, 6)}, 1},
		{"h264 one byte over", media.H264, [][]byte{nal([]byte{0x41}, maxPayload+1, 7)}, 2},
		{"h264 AUD passes", media.H264, [][]byte{{0x09, 0xf0}, nal([]byte{0x41}, 2000, 8)}, 1 + 2},
		{"h265 parameter sets aggregate, IRAP fragments", media.H265, [][]byte{
			nal([]byte{0x40, 0x01}, 24, 9), nal([]byte{0x42, 0x01}, 40, 10), nal([]byte{0x44, 0x01}, 8, 11),
			nal([]byte{0x26, 0x01}, 4000, 12),
		}, 1 + 4},
		{"h265 small slice", media.H265, [][]byte{nal([]byte{0x02, 0x01}, 500, 13)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pkts := packetizeVideo(tt.codec, tt.au)
			require.Len(t, pkts, tt.packets)
			for i, p := range pkts {
				require.LessOrEqual(t, len(p.Payload), maxPayload)
				require.Equal(t, i == len(pkts)-1, p.Marker, "marker only on the last packet")
			}
			got := depacketize(t, tt.codec, pkts)
			require.Len(t, got, len(tt.au))
			for i := range tt.au {
				require.True(t, bytes.Equal(tt.au[i], got[i]), "NAL unit %d differs", i)
			}
		})
	}
}

func TestPacketizeCameraUnits(t *testing.T) {
	for i, u := range cameraUnits(t) {
		got := depacketize(t, media.H264, packetizeVideo(media.H264, u.AU))
		require.Equal(t, u.AU, got, "unit %d", i)
	}
}

func FuzzPacketize(f *testing.F) {
	f.Add([]byte{0x67, 1, 2, 3, 0, 0, 1, 0x68, 4, 0, 0, 1, 0x65, 5, 6}, 100, false)
	f.Add([]byte{0x40, 1, 2, 0, 0, 1, 0x26, 1, 5}, 3000, true)
	f.Fuzz(func(t *testing.T, data []byte, pad int, h265 bool) {
		codec := media.H264
		if h265 {
			codec = media.H265
		}
		var au [][]byte
		for _, n := range bytes.Split(data, []byte{0, 0, 1}) {
			if len(n) > 0 && n[len(n)-1] != 0 && n[0]&0x1f != 0 && n[0] != 0x80 {
				if h265 && (len(n) < 2 || (n[0]>>1)&0x3f >= 48) {
					continue
				}
				if !h265 && (n[0]&0x1f >= 24 || n[0]&0x80 != 0) {
					continue
				}
				au = append(au, n)
			}
		}
		if len(au) > 0 && pad > 0 && pad < 20000 {
			au[len(au)-1] = append(au[len(au)-1], make([]byte, pad)...)
			au[len(au)-1] = append(au[len(au)-1], 1)
		}
		pkts := packetizeVideo(codec, au)
		if len(au) == 0 {
			require.Empty(t, pkts)
			return
		}
		for _, p := range pkts {
			require.LessOrEqual(t, len(p.Payload), maxPayload)
		}
		require.True(t, pkts[len(pkts)-1].Marker)
	})
}

func BenchmarkPacketize(b *testing.B) {
	units := cameraUnits(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		packetizeVideo(media.H264, units[i%len(units)].AU)
		i++
	}
}
