package livebench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"

	"github.com/sunlight-gov/sunlight/internal/whepclient"
)

// viewer is one WHEP client (whepclient: a browser-like receive-only
// pion peer that NACKs lost packets and sends receiver reports) whose
// ordered packets go to an assembler that reads each frame's send stamp.
type viewer struct {
	camera  string
	c       *whepclient.Client
	gotIDR  chan struct{}
	idrOnce sync.Once

	mu sync.Mutex
	// Guarded by mu.
	frames      []frameRec // complete frames, each frame counter once, in order
	haveSeq     bool
	maxSeq      uint64
	firstIDR    int64 // Unix ns of the first complete IDR; 0 before
	firstWasIDR bool  // the first complete frame was an IDR
	replayed    uint64
	broken      uint64
	burst       burstMeter
}

// catchUp is how long after its connection a viewer's live frames are its
// catch-up: sent while the GOP replay was being paced to it, they queue
// behind it. Their latency is reported apart (CatchUpMaxMs) from the
// settled stream's.
const catchUp = time.Second

// burstWindow is the span over which burstMeter sums arrivals: a client
// busy for that long (a GC pause, a loaded core) must hold in its socket
// buffer what arrived meanwhile, and a default buffer holds ~208 KB.
const burstWindow = 10 * time.Millisecond

// burstMeter keeps the most bytes that arrived within any burstWindow.
type burstMeter struct {
	at    []int64 // arrival (ns) and size of the packets in the window
	sizes []int
	sum   int
	max   int
}

func (b *burstMeter) add(now int64, size int) {
	b.at, b.sizes = append(b.at, now), append(b.sizes, size)
	b.sum += size
	i := 0
	for i < len(b.at) && now-b.at[i] > int64(burstWindow) {
		b.sum -= b.sizes[i]
		i++
	}
	b.at, b.sizes = b.at[i:], b.sizes[i:]
	b.max = max(b.max, b.sum)
}

// loopbackInterfaces returns the names of the loopback interfaces.
func loopbackInterfaces() []string {
	var names []string
	ifaces, err := net.Interfaces()
	if err != nil {
		return names
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagLoopback != 0 {
			names = append(names, iface.Name)
		}
	}
	return names
}

// dialViewer joins a camera's stream at whepURL (the WHEP endpoint of
// the camera's window), gathering on the interfaces given. It returns
// once the answer is applied; media follows.
func dialViewer(ctx context.Context, client *http.Client, whepURL, camera string, interfaces []string) (*viewer, error) {
	v := &viewer{camera: camera, gotIDR: make(chan struct{})}
	asm := newAssembler(v.onFrame)
	c, err := whepclient.Dial(ctx, whepURL, whepclient.Options{
		HTTPClient: client,
		Interfaces: interfaces,
		OnPacket: func(p *rtp.Packet, gap bool) {
			now := time.Now()
			asm.process(p, gap, now)
			v.mu.Lock()
			v.broken = asm.broken
			v.burst.add(now.UnixNano(), len(p.Payload)+12)
			v.mu.Unlock()
		},
	})
	if err != nil {
		return nil, fmt.Errorf("viewer %s: %w", camera, err)
	}
	v.c = c
	return v, nil
}

func (v *viewer) onFrame(f frameRec) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.haveSeq && f.Seq <= v.maxSeq {
		v.replayed++ // a GOP replayed again: not new
		return
	}
	if !v.haveSeq {
		v.firstWasIDR = f.IDR
	}
	v.haveSeq, v.maxSeq = true, f.Seq
	v.frames = append(v.frames, f)
	if f.IDR && v.firstIDR == 0 {
		v.firstIDR = f.Arrived
		v.idrOnce.Do(func() { close(v.gotIDR) })
	}
}

// close ends the session (WHEP DELETE) and the peer, and waits for the
// reader.
func (v *viewer) close() { v.c.Close() }

// viewerReport is what one viewer saw.
type viewerReport struct {
	Camera string `json:"camera"`
	// From the POST to the peer connected (ICE, DTLS) and to the first
	// complete IDR access unit, in ms.
	ConnectMs   float64 `json:"connect_ms"`
	FirstIDRMs  float64 `json:"first_idr_ms"`
	FirstWasIDR bool    `json:"first_was_idr"`
	// JoinedNs is the POST (Unix ns): a viewer that joined during the
	// window watched only from then.
	JoinedNs int64 `json:"joined_ns"`
	// Live frames of the measurement window: sent by the camera (from the
	// frame counters around the window) after this viewer's connection
	// was up, received whole, and lost.
	Expected int `json:"expected"`
	Received int `json:"received"`
	Lost     int `json:"lost"`
	// The GOP replay at join: the frames the camera had sent before the
	// connection was up, from the first one received (the IDR, unless it
	// was lost: FirstWasIDR) to the last; their age is not latency.
	ReplayExpected int `json:"replay_expected"`
	ReplayReceived int `json:"replay_received"`
	ReplayLost     int `json:"replay_lost"`
	// CatchUpMaxMs is the latest of the live frames sent within catchUp
	// of the connection (queued behind the replay), which are not in the
	// latency figures.
	CatchUpMaxMs float64 `json:"catch_up_max_ms"`
	// BurstKB is the most that arrived within 10 ms (burstWindow), in KB.
	BurstKB float64 `json:"burst_kb"`
	// TailUnknown: no frame sent after the window arrived, so frames lost
	// at its very end could not be counted.
	TailUnknown bool           `json:"tail_unknown,omitempty"`
	Replayed    uint64         `json:"replayed"`
	Assembler   assemblerStats `json:"assembler"`
}

// window reports the frames the camera sent in [t0, t1) (Unix ns) and
// returns their latencies (arrival − send).
func (v *viewer) window(t0, t1 int64) (viewerReport, []time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	r := viewerReport{Camera: v.camera, FirstWasIDR: v.firstWasIDR, Replayed: v.replayed,
		Assembler: assemblerStats{ReorderStats: v.c.Stats(), Broken: v.broken}}
	if c := v.c.Connected(); !c.IsZero() {
		r.ConnectMs = ms(c.Sub(v.c.Posted))
	}
	if v.firstIDR != 0 {
		r.FirstIDRMs = ms(time.Duration(v.firstIDR - v.c.Posted.UnixNano()))
	}
	r.JoinedNs = v.c.Posted.UnixNano()
	r.BurstKB = float64(v.burst.max) / 1024
	if len(v.frames) == 0 {
		return r, nil
	}
	// The replay: the frames sent before the connection was up.
	up := v.c.Connected().UnixNano()
	if up <= 0 {
		up = r.JoinedNs
	}
	live := 0
	for live < len(v.frames) && v.frames[live].Sent < up {
		live++
	}
	if live > 0 {
		r.ReplayReceived = live
		r.ReplayExpected = int(v.frames[live-1].Seq - v.frames[0].Seq + 1)
		r.ReplayLost = r.ReplayExpected - r.ReplayReceived
	}
	frames := v.frames[live:]
	if len(frames) == 0 {
		return r, nil
	}
	// The window's frame counters: after the last frame sent before t0
	// (or the replay's last), up to the first frame sent at or after t1.
	lo, hi := frames[0].Seq, frames[len(frames)-1].Seq
	r.TailUnknown = true
	for _, f := range frames {
		if f.Sent < t0 {
			lo = f.Seq + 1
		}
		if f.Sent >= t1 {
			hi = f.Seq - 1
			r.TailUnknown = false
			break
		}
	}
	if hi < lo {
		return r, nil
	}
	var lat []time.Duration
	for _, f := range frames {
		if f.Seq >= lo && f.Seq <= hi {
			r.Received++
			d := time.Duration(f.Arrived - f.Sent)
			if f.Sent < up+int64(catchUp) {
				r.CatchUpMaxMs = max(r.CatchUpMaxMs, ms(d))
				continue
			}
			lat = append(lat, d)
		}
	}
	r.Expected = int(hi - lo + 1)
	r.Lost = r.Expected - r.Received
	return r, lat
}

// viewerURL joins the WHEP base URL and a window id.
func viewerURL(base, window string) string {
	return strings.TrimSuffix(base, "/") + "/" + url.PathEscape(window)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
