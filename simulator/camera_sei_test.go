package simulator

// Tests of the simulator's send-time SEI (simulator/camera_sei.go), kept
// here with their only user.

import (
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"
)

func TestSendStampSEIRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   SendStamp
	}{
		{"now", SendStamp{Time: time.Now(), Seq: 42}},
		{"zeros need emulation prevention", SendStamp{Time: time.Unix(0, 0), Seq: 0}},
		{"0x000003 in the data", SendStamp{Time: time.Unix(0, 0x0000030000010002), Seq: 0x0300000001000003}},
		{"all ones", SendStamp{Time: time.Unix(0, -1), Seq: ^uint64(0)}},
		{"nanoseconds", SendStamp{Time: time.Unix(1_800_000_000, 123_456_789), Seq: 1 << 32}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nalu := NewSendStampSEI(tc.st)
			if nalu[0] != 0x06 {
				t.Fatalf("NAL header %#x, want 0x06 (SEI, nal_ref_idc 0)", nalu[0])
			}
			for _, sc := range [][]byte{{0, 0, 0}, {0, 0, 1}, {0, 0, 2}} {
				if bytes.Contains(nalu, sc) {
					t.Fatalf("%x holds %x: emulation prevention missing", nalu, sc)
				}
			}
			if nalu[len(nalu)-1] != 0x80 {
				t.Fatalf("%x does not end with rbsp_trailing_bits", nalu)
			}
			rbsp := seiUnescape(nalu[1:])
			want := append([]byte{5, 32}, SendTimeUUID[:]...)
			want = binary.BigEndian.AppendUint64(want, uint64(tc.st.Time.UnixNano()))
			want = binary.BigEndian.AppendUint64(want, tc.st.Seq)
			want = append(want, 0x80)
			if !bytes.Equal(rbsp, want) {
				t.Fatalf("rbsp %x, want %x", rbsp, want)
			}

			got, ok := ParseSendStampSEI(nalu)
			if !ok || !got.Time.Equal(tc.st.Time) || got.Seq != tc.st.Seq {
				t.Fatalf("ParseSendStampSEI = %v %d %v, want %v %d", got.Time, got.Seq, ok, tc.st.Time, tc.st.Seq)
			}
			tm, ok := ParseSendTimeSEI(nalu)
			if !ok || !tm.Equal(tc.st.Time) {
				t.Fatalf("ParseSendTimeSEI = %v %v, want %v", tm, ok, tc.st.Time)
			}
		})
	}
}

func TestParseSendTimeSEI(t *testing.T) {
	stamp := SendStamp{Time: time.Unix(1_700_000_000, 5), Seq: 7}
	ours := NewSendStampSEI(stamp)
	otherUUID := bytes.Repeat([]byte{0x11}, 16)
	// A SEI with a recovery point (type 6), then a 300-byte foreign
	// user_data_unregistered (size coded 0xFF 0x2D), then ours.
	var rbsp []byte
	rbsp = append(rbsp, 6, 1, 0x84)
	rbsp = append(rbsp, 5, 0xff, 300-255)
	rbsp = append(rbsp, otherUUID...)
	rbsp = append(rbsp, bytes.Repeat([]byte{0x22}, 300-16)...)
	rbsp = append(rbsp, seiUnescape(ours[1:])...) // ours, with its trailing bits
	several := append([]byte{0x06}, rbsp...)

	timeOnly := append([]byte{0x06, 5, 24}, SendTimeUUID[:]...)
	timeOnly = binary.BigEndian.AppendUint64(timeOnly, uint64(stamp.Time.UnixNano()))
	timeOnly = append(timeOnly, 0x80)

	for _, tc := range []struct {
		name      string
		nalu      []byte
		time, seq bool
	}{
		{"ours", ours, true, true},
		{"ours after other messages", several, true, true},
		{"time only", timeOnly, true, false},
		{"empty", nil, false, false},
		{"a slice", []byte{0x65, 0x88, 0x84}, false, false},
		{"another UUID", append([]byte{0x06, 5, 24}, append(otherUUID, make([]byte, 9)...)...), false, false},
		{"truncated", ours[:20], false, false},
		{"size beyond the end", []byte{0x06, 5, 200, 1, 2, 3, 0x80}, false, false},
		{"only 0xFF", []byte{0x06, 0xff, 0xff}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tm, ok := ParseSendTimeSEI(tc.nalu)
			if ok != tc.time || (ok && !tm.Equal(stamp.Time)) {
				t.Errorf("ParseSendTimeSEI = %v, %v; want ok %v", tm, ok, tc.time)
			}
			st, ok := ParseSendStampSEI(tc.nalu)
			if ok != tc.seq || (ok && (st.Seq != stamp.Seq || !st.Time.Equal(stamp.Time))) {
				t.Errorf("ParseSendStampSEI = %+v, %v; want ok %v", st, ok, tc.seq)
			}
		})
	}
}

func TestStampAccessUnit(t *testing.T) {
	sps, pps, x264 := []byte{0x67, 1}, []byte{0x68, 2}, []byte{0x06, 5, 1, 0x80}
	idr, p := []byte{0x65, 0x88}, []byte{0x41, 0x9a}
	st := SendStamp{Time: time.Unix(1, 2), Seq: 3}
	sei := NewSendStampSEI(st)
	for _, tc := range []struct {
		name   string
		au     [][]byte
		want   [][]byte
		stamps bool
	}{
		{"IDR", [][]byte{sps, pps, x264, idr, idr}, [][]byte{sps, pps, x264, sei, idr, idr}, true},
		{"P", [][]byte{p}, [][]byte{sei, p}, true},
		{"no slice", [][]byte{sps, pps}, [][]byte{sps, pps}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.au)
			got := StampAccessUnit(tc.au, st)
			if !slices.EqualFunc(got, tc.want, bytes.Equal) {
				t.Errorf("got %x, want %x", got, tc.want)
			}
			if !slices.EqualFunc(tc.au, orig, bytes.Equal) {
				t.Errorf("the input changed: %x", tc.au)
			}
		})
	}
}

// TestStampedCameraDecodes reads a stamped camera over RTSP, checks that
// every frame carries its stamp, in sequence, and that ffmpeg decodes
// the stamped stream without a complaint.
func TestStampedCameraDecodes(t *testing.T) {
	requireFFmpeg(t)
	cams := &CameraServer{
		Address: "127.0.0.1:0", Windows: []string{"A"}, CacheDir: t.TempDir(),
		Width: 320, Height: 240, FPS: 15, GOP: time.Second, Loop: 2 * time.Second,
		StampSEI: true,
	}
	if err := cams.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer cams.Close()

	aus := readRTSP(t, cams.URL("A"), 40) // across a loop boundary
	var annexB []byte
	var last uint64
	for i, au := range aus {
		var stamps []SendStamp
		for _, nalu := range au {
			if st, ok := ParseSendStampSEI(nalu); ok {
				stamps = append(stamps, st)
				if !bytes.Equal(nalu, NewSendStampSEI(st)) {
					t.Errorf("frame %d: SEI %x changed on the way", i, nalu)
				}
			}
			annexB = append(annexB, 0, 0, 0, 1)
			annexB = append(annexB, nalu...)
		}
		if len(stamps) != 1 {
			t.Fatalf("frame %d has %d stamps, want 1", i, len(stamps))
		}
		st := stamps[0]
		if age := time.Since(st.Time); age < 0 || age > 10*time.Second {
			t.Errorf("frame %d: sent %v ago", i, age)
		}
		if i > 0 && st.Seq != last+1 {
			t.Errorf("frame %d: counter %d after %d", i, st.Seq, last)
		}
		last = st.Seq
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// framemd5 writes a line per decoded frame.
	cmd := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-f", "h264", "-i", "-", "-f", "framemd5", "-")
	cmd.Stdin = bytes.NewReader(annexB)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg on %d stamped frames: %v: %s", len(aus), err, stderr.Bytes())
	}
	decoded := 0
	for line := range bytes.Lines(out) {
		if !bytes.HasPrefix(line, []byte("#")) {
			decoded++
		}
	}
	if decoded != len(aus) {
		t.Fatalf("ffmpeg decoded %d frames of %d", decoded, len(aus))
	}
}

// readRTSP plays url and returns n access units from the first IDR on.
func readRTSP(t *testing.T, rawURL string, n int) [][][]byte {
	t.Helper()
	ch, stop := playRTSP(t, rawURL)
	defer stop()
	return collect(t, ch, n)
}

// collect returns n access units from the first IDR on.
func collect(t *testing.T, ch <-chan [][]byte, n int) [][][]byte {
	t.Helper()
	var aus [][][]byte
	timeout := time.After(20 * time.Second)
	for len(aus) < n {
		select {
		case au := <-ch:
			if len(aus) == 0 && !isIDR(au) {
				continue
			}
			aus = append(aus, au)
		case <-timeout:
			t.Fatalf("%d frames after 20 s, want %d", len(aus), n)
		}
	}
	return aus
}

// playRTSP plays url; the access units come on the channel until stop.
func playRTSP(t *testing.T, rawURL string) (<-chan [][]byte, func()) {
	t.Helper()
	u, err := base.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp}
	if err := c.Start2(); err != nil {
		t.Fatal(err)
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatal(err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		t.Fatal("no H.264")
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		t.Fatal(err)
	}
	ch := make(chan [][]byte, 256)
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		au, err := dec.Decode(pkt)
		if errors.Is(err, rtph264.ErrMorePacketsNeeded) || errors.Is(err, rtph264.ErrNonStartingPacketAndNoPrevious) {
			return
		}
		if err != nil {
			t.Errorf("depacketize: %v", err)
			return
		}
		select {
		case ch <- au:
		default:
		}
	})
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	ok = true
	return ch, c.Close
}

func isIDR(au [][]byte) bool {
	for _, nalu := range au {
		if len(nalu) > 0 && nalu[0]&0x1f == byte(h264.NALUTypeIDR) {
			return true
		}
	}
	return false
}

// TestStaggeredCameras checks CameraServer.Stagger: two cameras'
// frames half a frame period apart, their IDRs half a GOP apart.
func TestStaggeredCameras(t *testing.T) {
	requireFFmpeg(t)
	cams := &CameraServer{
		Address: "127.0.0.1:0", Windows: []string{"A", "B"}, CacheDir: t.TempDir(),
		Width: 320, Height: 240, FPS: 15, GOP: time.Second, Loop: 2 * time.Second,
		StampSEI: true, Stagger: true,
	}
	if err := cams.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer cams.Close()

	type frame struct {
		sent time.Time
		idr  bool
	}
	// Both at once, so that their frames overlap.
	chA, stopA := playRTSP(t, cams.URL("A"))
	defer stopA()
	chB, stopB := playRTSP(t, cams.URL("B"))
	defer stopB()
	frames := func(aus [][][]byte) map[uint64]frame {
		m := map[uint64]frame{}
		for _, au := range aus {
			for _, nalu := range au {
				if st, ok := ParseSendStampSEI(nalu); ok {
					m[st.Seq] = frame{st.Time, isIDR(au)}
				}
			}
		}
		return m
	}
	a := frames(collect(t, chA, 30))
	b := frames(collect(t, chB, 30))
	var diffs []time.Duration
	for seq, fa := range a {
		if fa.idr && seq%15 != 0 {
			t.Errorf("A: IDR at frame %d, want every 15th from 0", seq)
		}
		if fb, ok := b[seq]; ok {
			diffs = append(diffs, fb.sent.Sub(fa.sent))
		}
	}
	for seq, fb := range b {
		// B starts its clip 7 frames in (half a GOP, rounded down).
		if fb.idr && (seq+7)%15 != 0 {
			t.Errorf("B: IDR at frame %d, want at 8, 23, ...", seq)
		}
	}
	if len(diffs) < 5 {
		t.Fatalf("only %d frames in common", len(diffs))
	}
	// Half of 1/15 s, give or take the scheduler.
	slices.Sort(diffs)
	if d := diffs[len(diffs)/2]; d < 25*time.Millisecond || d > 45*time.Millisecond {
		t.Errorf("B sends its frames %v (median) after A, want ~33ms: %v", d, diffs)
	}
}
