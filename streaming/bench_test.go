package streaming

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/media"
	"github.com/sunlight-gov/sunlight/internal/whepclient"
)

// The benchmark's viewers run in a child process (this test binary again),
// so the process CPU that BenchmarkFanOut measures is the server's alone.
const (
	envClientURL = "STREAMING_BENCH_CLIENT_URL"
	envClients   = "STREAMING_BENCH_CLIENTS"
)

// BenchmarkFanOut sends frames of a real camera to N WHEP viewers (pion
// peers in a child process, over loopback). One op is one frame written
// and sent to every viewer. Metrics: the server's CPU time (user+system,
// this process only) per viewer-frame and per viewer-second at 15 fps,
// wall time per viewer-frame, allocations per frame (all viewers), drops
// and the p99 latency from WriteVideo to the last packet sent.
//
//	go test -run '^$' -bench FanOut -benchtime 300x -cpuprofile cpu.prof ./streaming/
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) { benchFanOut(b, n, false) })
	}
}

// BenchmarkFanOutRealtime is BenchmarkFanOut at the camera's pace (15
// fps): its CPU per viewer-second and its latency are those of a live
// camera. Run it for a few seconds:
//
//	go test -run '^$' -bench FanOutRealtime -benchtime 90x ./streaming/
func BenchmarkFanOutRealtime(b *testing.B) {
	for _, n := range []int{8, 32} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) { benchFanOut(b, n, true) })
	}
}

func benchFanOut(b *testing.B, viewers int, realtime bool) {
	units := cameraUnits(b)
	stream := NewStream("bench", cameraTrack(b), nil)
	defer stream.Close()
	writeUnits(stream, units, 0, 1, false)
	reg := &Registry{}
	reg.Add(stream)
	srv := &WebRTCServer{Streams: reg, MaxViewersPerStream: viewers}
	require.NoError(b, srv.Initialize())
	defer srv.Close()
	hs := whepHandler(srv)
	defer hs.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), envClientURL+"="+hs.URL+"/bench", envClients+"="+strconv.Itoa(viewers))
	stdin, err := cmd.StdinPipe()
	require.NoError(b, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(b, err)
	cmd.Stderr = os.Stderr
	require.NoError(b, cmd.Start())
	defer func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		ready <- fmt.Errorf("the viewers' process ended: %v", sc.Err())
	}()
	// The viewers need frames to get ready: feed the stream meanwhile.
	for i := 1; ; i++ {
		writeUnits(stream, units, i, i+1, false)
		select {
		case err := <-ready:
			require.NoError(b, err)
		case <-time.After(frameDur):
			continue
		}
		break
	}
	require.Equal(b, viewers, srv.Viewers("bench"))

	start := testFPS * 10
	packets := 0
	perUnit := make([]int, len(units))
	for i, u := range units {
		perUnit[i] = len(packetizeVideo(media.H264, u.AU))
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, t0 := cpuTime(), time.Now()
	for i := 0; i < b.N; i++ {
		if realtime {
			time.Sleep(time.Until(t0.Add(time.Duration(i) * frameDur)))
		}
		u := *units[(start+i)%len(units)]
		u.PTS = int64(start+i) * frameTicks
		stream.WriteVideo(&u)
		packets += perUnit[(start+i)%len(units)]
		for !realtime && stream.queued() > 0 {
			time.Sleep(50 * time.Microsecond)
		}
	}
	elapsed, cpu := time.Since(t0), cpuTime()-cpu0
	b.StopTimer()
	time.Sleep(20 * time.Millisecond) // the last frame's packets
	vf := float64(b.N * viewers)
	b.ReportMetric(float64(cpu.Nanoseconds())/vf, "cpu-ns/viewer-frame")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(packets*viewers), "cpu-ns/viewer-packet")
	b.ReportMetric(float64(cpu.Nanoseconds())/vf*testFPS/1e6, "cpu-ms/viewer-s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/vf, "ns/viewer-frame")
	var p50s []time.Duration
	var p99 time.Duration
	for _, st := range srv.Sessions() {
		p50s = append(p50s, st.LatencyP50)
		p99 = max(p99, st.LatencyP99)
	}
	slices.Sort(p50s)
	b.ReportMetric(float64(p50s[len(p50s)/2].Microseconds()), "latency-p50-µs")
	b.ReportMetric(float64(p99.Microseconds()), "latency-p99-µs")
	b.ReportMetric(float64(stream.Stats().Drops), "drops")
}

// whepHandler serves WHEP POSTs (the path is the stream) for benchmarks.
func whepHandler(srv *WebRTCServer) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, answer, err := srv.NewSession(r.Context(), strings.TrimPrefix(r.URL.Path, "/"), string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Location", "/session/"+id)
		w.Header().Set("Content-Type", "application/sdp")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, answer)
	}))
}

// runBenchClients is the child process of BenchmarkFanOut: n viewers that
// read and drop RTP until stdin closes. It prints "ready" once every
// viewer has media.
func runBenchClients(url string, n int) int {
	var wg sync.WaitGroup
	var readyCount atomic.Int64
	readyCh := make(chan struct{})
	var pcs []*webrtc.PeerConnection
	defer func() {
		for _, pc := range pcs {
			_ = pc.Close()
		}
		wg.Wait()
	}()
	for range n {
		pc, offer, err := whepclient.NewPeer(whepclient.Options{Audio: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			return 1
		}
		pcs = append(pcs, pc)
		var once sync.Once
		pc.OnTrack(func(track *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			wg.Add(1)
			defer wg.Done()
			buf := make([]byte, 1500)
			for {
				if _, _, err := track.Read(buf); err != nil {
					return
				}
				once.Do(func() {
					if readyCount.Add(1) == int64(n) {
						close(readyCh)
					}
				})
			}
		})
		resp, err := http.Post(url, "application/sdp", strings.NewReader(offer))
		if err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			return 1
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			fmt.Fprintf(os.Stderr, "client: %s: %s\n", resp.Status, answer)
			return 1
		}
		if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
			fmt.Fprintln(os.Stderr, "client:", err)
			return 1
		}
	}
	select {
	case <-readyCh:
		fmt.Println("ready")
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "client: viewers not ready after 30s")
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// BenchmarkTimeToFirstFrame joins a live camera (2 s GOP) at random
// points of its GOP: one op is one join, from NewSession to the first
// complete IDR access unit at the client. Reported as p50/p95 over the
// joins, also split at the moment the client saw the peer connected (ICE
// and DTLS: the client's share) and after (the server's replay).
//
//	go test -run '^$' -bench TimeToFirstFrame -benchtime 20x ./streaming/
func BenchmarkTimeToFirstFrame(b *testing.B) {
	stream, _ := liveStream(b, "w1", 500*time.Millisecond, true)
	srv, _ := testServer(b, stream)
	var total, connect, after []time.Duration
	for b.Loop() {
		c, err := dialWHEP(b, srv, "w1", clientOptions{})
		require.NoError(b, err)
		au := c.waitAU(b, 10*time.Second)
		require.True(b, au.IDR)
		total = append(total, au.Arrived.Sub(c.Posted))
		conn := c.Connected()
		connect = append(connect, conn.Sub(c.Posted))
		after = append(after, au.Arrived.Sub(conn))
		c.Close()
		time.Sleep(time.Duration(len(total)%7) * 37 * time.Millisecond) // another point of the GOP
	}
	report := func(name string, d []time.Duration) {
		slices.Sort(d)
		q := func(p float64) float64 {
			return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
		}
		b.ReportMetric(q(0.50), name+"-p50-ms")
		b.ReportMetric(q(0.95), name+"-p95-ms")
	}
	report("ttff", total)
	report("connect", connect)
	report("after-connect", after)
	b.ReportMetric(0, "ns/op")
}
