package ingest_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// fakeCamera is a real gortsplib RTSP server with whatever tracks a test
// needs (the simulator only does H.264): MJPEG, G.711 only, H.265 with
// audio. Its tick function writes the packets of frame n.
type fakeCamera struct {
	medias []*description.Media
	fps    int
	tick   func(fc *fakeCamera, n int64, ntp time.Time)
	udp    bool // also serve UDP
	// UDP host; "127.0.0.2" makes the camera's UDP packets come from
	// another address than its RTSP connection, which a client drops:
	// UDP "blocked by a firewall"
	udpHost string

	server *gortsplib.Server
	stream *gortsplib.ServerStream
	addr   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

func (fc *fakeCamera) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, fc.stream, nil
}

func (fc *fakeCamera) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, fc.stream, nil
}

func (fc *fakeCamera) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (fc *fakeCamera) url() string { return "rtsp://" + fc.addr + "/cam" }

// startFakeCamera serves fc on a free loopback port until the test ends.
func startFakeCamera(t *testing.T, fc *fakeCamera) *fakeCamera {
	t.Helper()
	var err error
	for range 10 { // a UDP port pair can be taken between probe and listen
		fc.server = &gortsplib.Server{
			Handler:     fc,
			RTSPAddress: "127.0.0.1:0",
			Listen: func(network, address string) (net.Listener, error) {
				ln, err := net.Listen(network, address)
				if err == nil {
					fc.addr = ln.Addr().String()
				}
				return ln, err
			},
		}
		if fc.udp {
			host := fc.udpHost
			if host == "" {
				host = "127.0.0.1"
			}
			p := freeUDPPair(t, host)
			fc.server.UDPRTPAddress = net.JoinHostPort(host, strconv.Itoa(p))
			fc.server.UDPRTCPAddress = net.JoinHostPort(host, strconv.Itoa(p+1))
		}
		if err = fc.server.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("fake camera: %v", err)
	}
	fc.stream = &gortsplib.ServerStream{Server: fc.server, Desc: &description.Session{Medias: fc.medias}}
	if err := fc.stream.Initialize(); err != nil {
		fc.server.Close()
		t.Fatalf("fake camera stream: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fc.cancel = cancel
	if fc.tick != nil {
		fc.wg.Add(1)
		go fc.pace(ctx)
	}
	t.Cleanup(fc.close)
	return fc
}

func (fc *fakeCamera) pace(ctx context.Context) {
	defer fc.wg.Done()
	period := time.Second / time.Duration(fc.fps)
	start := time.Now()
	t := time.NewTimer(0)
	defer t.Stop()
	for n := int64(0); ; n++ {
		due := start.Add(time.Duration(n) * period)
		t.Reset(time.Until(due))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fc.tick(fc, n, due)
	}
}

func (fc *fakeCamera) close() {
	fc.closed.Do(func() {
		fc.cancel()
		fc.wg.Wait()
		fc.stream.Close()
		fc.server.Close()
	})
}

// write sends packets with the given RTP timestamp.
func (fc *fakeCamera) write(t testing.TB, m *description.Media, pkts []*rtp.Packet, ts uint32, ntp time.Time) {
	for _, p := range pkts {
		p.Timestamp += ts
		if err := fc.stream.WritePacketRTPWithNTP(m, p, ntp); err != nil {
			t.Errorf("fake camera write: %v", err)
			return
		}
	}
}

// freeUDPPair finds an even port whose successor is free too.
func freeUDPPair(t *testing.T, host string) int {
	t.Helper()
	for range 100 {
		a, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Skipf("cannot listen on UDP %s: %v", host, err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		a.Close()
		if p%2 != 0 || p >= 65535 {
			continue
		}
		b, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p+1)))
		if err != nil {
			continue
		}
		b.Close()
		return p
	}
	t.Fatal("no free UDP port pair")
	return 0
}

// H.265 parameter sets: two real SPS (1280x720 and 1920x1080, from
// mediacommon's tests) so the size can change in band; VPS and PPS only
// need the right NAL types here.
var (
	testH265VPS    = []byte{0x40, 0x01, 0x0c, 0x01, 0xff, 0xff}
	testH265PPS    = []byte{0x44, 0x01, 0xc1, 0x72, 0xb4}
	testH265SPS720 = []byte{
		0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03,
		0x00, 0x98, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00,
		0x5d, 0x90, 0x00, 0x50, 0x10, 0x05, 0xa2, 0x29,
		0x4b, 0x74, 0x94, 0x98, 0x5f, 0xfe, 0x00, 0x02,
		0x00, 0x02, 0xd4, 0x04, 0x04, 0x04, 0x10, 0x00,
		0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x01,
		0xe0, 0x80,
	}
	testH265SPS1080 = []byte{
		0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03,
		0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03,
		0x00, 0x78, 0xa0, 0x03, 0xc0, 0x80, 0x10, 0xe5,
		0x96, 0x66, 0x69, 0x24, 0xca, 0xe0, 0x10, 0x00,
		0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x01,
		0xe0, 0x80,
	}
)

// testH265IRAP cycles the IRAP NAL types a camera may start a GOP with.
var testH265IRAP = []byte{19, 21, 16, 20} // IDR_W_RADL, CRA, BLA_W_LP, IDR_N_LP

const (
	testH265FPS        = 25
	testH265GOP        = 10 // frames
	testH265SPSSwitchN = 3 * testH265GOP
)

// newH265Camera is a fake H.265 camera with G.711 µ-law audio. Frames
// carry a SEI; from frame testH265SPSSwitchN on, the SPS says 1920x1080.
func newH265Camera(t *testing.T, udp bool) *fakeCamera {
	return startFakeCamera(t, h265Camera(t, udp))
}

// h265Camera is newH265Camera before it starts.
func h265Camera(t *testing.T, udp bool) *fakeCamera {
	video := &format.H265{PayloadTyp: 96, VPS: testH265VPS, SPS: testH265SPS720, PPS: testH265PPS}
	audio := &format.G711{PayloadTyp: 0, MULaw: true, SampleRate: 8000, ChannelCount: 1}
	vm := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{video}}
	am := &description.Media{Type: description.MediaTypeAudio, Formats: []format.Format{audio}}
	venc, err := video.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	aenc, err := audio.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	const samplesPerFrame = 8000 / testH265FPS
	return &fakeCamera{
		medias: []*description.Media{vm, am},
		fps:    testH265FPS,
		udp:    udp,
		tick: func(fc *fakeCamera, n int64, ntp time.Time) {
			sei := []byte{39 << 1, 0x01, 0x05, 0x01, 0xaa, 0x80} // prefix SEI, passed through
			var au [][]byte
			if n%testH265GOP == 0 {
				sps := testH265SPS720
				if n >= testH265SPSSwitchN {
					sps = testH265SPS1080
				}
				typ := testH265IRAP[(n/testH265GOP)%int64(len(testH265IRAP))]
				irap := make([]byte, 4000) // over the MTU: fragmented
				irap[0], irap[1] = typ<<1, 0x01
				au = [][]byte{testH265VPS, sps, testH265PPS, sei, irap}
			} else {
				trail := make([]byte, 300)
				trail[0], trail[1] = 1<<1, 0x01 // TRAIL_R
				au = [][]byte{sei, trail}
			}
			pkts, err := venc.Encode(au)
			if err != nil {
				t.Errorf("encode H.265: %v", err)
				return
			}
			fc.write(t, vm, pkts, uint32(n*90000/testH265FPS), ntp)

			apkts, err := aenc.Encode(make([]byte, samplesPerFrame))
			if err != nil {
				t.Errorf("encode G.711: %v", err)
				return
			}
			fc.write(t, am, apkts, uint32(n*samplesPerFrame), ntp)
		},
	}
}
