package livebench

import (
	"cmp"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sunlight-gov/sunlight/streaming"
)

func TestMain(m *testing.M) {
	// The cameras' and viewers' processes are this test binary again.
	if code, ok := RunChild(); ok {
		os.Exit(code)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// childCommand runs this test binary again as a child: TestMain hands it
// to RunChild before any test runs.
func childCommand() *exec.Cmd {
	return exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
}

func requireFFmpeg(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("ffmpeg is required in CI: %v", err)
		}
		tb.Skip("ffmpeg not on PATH: the simulated cameras need it (apt-get install ffmpeg)")
	}
}

// clipCache is where the benchmark keeps the cameras' clips between runs
// (rendering 32 takes ~30 s of CPU): $LIVEBENCH_CACHE, else the user's
// cache directory, else a temporary one.
func clipCache(tb testing.TB) string {
	if d := os.Getenv("LIVEBENCH_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "sunlight", "livebench")
	}
	return tb.TempDir()
}

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("LIVEBENCH_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// BenchmarkLive is the live-video load benchmark: N cameras × M WHEP
// viewers on loopback (see the package doc), for 8×2, 16×4 and 32×2, at
// 640x360, 15 fps, a 2 s GOP and ~1 Mbit/s per camera. The cameras' frame
// times spread evenly over the frame period and their IDRs over the GOP,
// as independent cameras' do; 16x4-aligned is the worst case, every
// camera's frames (and IDRs) due at the same instant. Metrics:
//
//   - server_cpu_ms_per_viewer_s: CPU (user+system) of the server process
//     alone (ingest, streaming, WHEP; cameras and viewers run in child
//     processes) per viewer per second of video, over the window;
//   - latency_p50_ms, latency_p99_ms: arrival at the viewer − send time
//     stamped by the camera, over all viewers' frames of the window. This
//     is the whole camera→viewer path (RTSP to ingest over loopback, the
//     relay, WebRTC over loopback, reassembly), not only what the server
//     adds; ingest_p99_ms is the camera→stream share of it;
//   - first_idr_p50_ms, first_idr_p95_ms: a viewer's POST to its first
//     complete IDR access unit, over the viewers (joining one every 50 ms
//     while the load builds up);
//   - frames_lost: live frames of the window missing at the viewers
//     (gaps in the SEI frame counter, or not received whole), all viewers;
//     replay_frames_lost: frames missing from the GOP replays at join
//     (the frames sent before a viewer's connection was up, counted
//     apart: their age is not latency and they are not in the latency
//     figures). Besides the viewers joined before the window, one per
//     camera joins during it (Config.LateJoins), spread over it, so that
//     replays happen under load as they do for an outside viewer; all
//     viewers use the operating system's default socket buffers;
//   - connect_p95_ms: a viewer's POST to its peer connected (ICE, DTLS);
//   - catch_up_max_ms: the live frames of a viewer's first second queue
//     behind its paced GOP replay; the latest of them, over the viewers
//     (they are not in latency_p50/p99, which are the settled stream's);
//   - burst_max_kb: the most bytes a viewer received within 10 ms, over
//     the viewers: what a client that stalls for 10 ms must hold in its
//     socket buffer (a default one holds ~208 KB);
//   - loadgen_cpu_ms_per_viewer_s: the viewers' process's CPU, the same
//     way (it shares the 2 cores with the server); cameras_cpu_ms_per_s
//     is the cameras' process's.
//
// Each configuration runs once, whatever b.N (ns/op means nothing here
// and is reported as 0). A run lasts ~20 s and its timer is not reset, so
// neither go test's default -benchtime 1s (which make bench uses) nor
// -benchtime 1x asks for a second call; a -benchtime longer than the run
// calls again, and gets the first run's metrics without running again.
// With LIVEBENCH_PROFILE_DIR set, each configuration writes a CPU profile
// of the server over its measurement window there; LIVEBENCH_TRACE names
// a CSV file that gets every frame of the viewers of the last one.
//
//	go test -run '^$' -bench Live -benchtime 1x ./bench/livebench/
func BenchmarkLive(b *testing.B) {
	requireFFmpeg(b)
	cache := clipCache(b)
	for _, c := range []struct {
		cams, viewers int
		aligned       bool
	}{{8, 2, false}, {16, 4, false}, {32, 2, false}, {48, 1, false}, {8, 8, false}, {16, 4, true}} {
		name := fmt.Sprintf("%dx%d", c.cams, c.viewers)
		if c.aligned {
			name += "-aligned"
		}
		var res *Result
		b.Run(name, func(b *testing.B) {
			if res == nil {
				cfg := Config{
					Cameras: c.cams, ViewersPerCamera: c.viewers, AlignedCameras: c.aligned,
					CacheDir: cache, Child: childCommand, Logger: testLogger(),
					UnbatchedSends: os.Getenv("LIVEBENCH_UNBATCHED") != "",
				}
				if dir := os.Getenv("LIVEBENCH_PROFILE_DIR"); dir != "" {
					cfg.CPUProfile = filepath.Join(dir, "server-"+name+".pprof")
				}
				var err error
				if res, err = Run(b.Context(), cfg); err != nil {
					b.Fatal(err)
				}
				b.Log(res)
			}
			reportLive(b, res)
		})
	}
}

// BenchmarkSendBatching runs 16 cameras × 4 viewers with the server's
// sends batched (sendmmsg, UDP segmentation: streaming's batchConn) and
// without, alternately, twice each, in one process: the machine's load
// varies by ±30% between runs, so only a side-by-side run compares them.
// It reports each one's median server CPU per viewer-second, their ratio
// and live latency p99, and the packets per system call batched.
//
//	go test -run '^$' -bench SendBatching -benchtime 1x ./bench/livebench/
func BenchmarkSendBatching(b *testing.B) {
	requireFFmpeg(b)
	cache := clipCache(b)
	var cpu, p99 [2][]float64 // [batched]
	var sends streaming.SendStats
	for i := range 4 {
		batched := i%2 == 1
		res, err := Run(b.Context(), Config{
			Cameras: 16, ViewersPerCamera: 4, CacheDir: cache, Child: childCommand, Logger: testLogger(),
			UnbatchedSends: !batched,
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("batched=%v: %v", batched, res)
		k := 0
		if batched {
			k, sends = 1, res.Sends
		}
		cpu[k] = append(cpu[k], res.ServerCPUPerViewerSecond())
		p99[k] = append(p99[k], res.Report.Latency.P99)
	}
	median := func(xs []float64) float64 {
		xs = slices.Clone(xs)
		slices.Sort(xs)
		return (xs[(len(xs)-1)/2] + xs[len(xs)/2]) / 2
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(cpu[0]), "unbatched_cpu_ms_per_viewer_s")
	b.ReportMetric(median(cpu[1]), "batched_cpu_ms_per_viewer_s")
	b.ReportMetric(median(cpu[1])/median(cpu[0]), "batched_cpu_ratio")
	b.ReportMetric(median(p99[0]), "unbatched_latency_p99_ms")
	b.ReportMetric(median(p99[1]), "batched_latency_p99_ms")
	if sends.Calls > 0 {
		b.ReportMetric(float64(sends.Packets)/float64(sends.Calls), "packets_per_call")
		b.ReportMetric(float64(sends.Packets)/float64(sends.Messages), "packets_per_message")
	}
}

func reportLive(b *testing.B, r *Result) {
	rep := r.Report
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(r.ServerCPUPerViewerSecond(), "server_cpu_ms_per_viewer_s")
	b.ReportMetric(rep.Latency.P50, "latency_p50_ms")
	b.ReportMetric(rep.Latency.P99, "latency_p99_ms")
	b.ReportMetric(r.IngestLatency.P99, "ingest_p99_ms")
	b.ReportMetric(rep.FirstIDR.P50, "first_idr_p50_ms")
	b.ReportMetric(rep.FirstIDR.P95, "first_idr_p95_ms")
	b.ReportMetric(float64(rep.Lost), "frames_lost")
	b.ReportMetric(float64(rep.ReplayLost), "replay_frames_lost")
	b.ReportMetric(rep.Connect.P95, "connect_p95_ms")
	b.ReportMetric(rep.BurstKB.Max, "burst_max_kb")
	b.ReportMetric(rep.CatchUp.Max, "catch_up_max_ms")
	b.ReportMetric(r.LoadgenCPUPerViewerSecond(), "loadgen_cpu_ms_per_viewer_s")
	b.ReportMetric(ms(r.CamerasCPU)/r.Window.Seconds(), "cameras_cpu_ms_per_s")
}

// TestLiveSmoke runs the benchmark's whole harness small: 1 camera × 2
// viewers, a 3 s window.
func TestLiveSmoke(t *testing.T) {
	requireFFmpeg(t)
	start := time.Now()
	res, err := Run(t.Context(), Config{
		Cameras: 1, ViewersPerCamera: 2,
		Loop:     4 * time.Second,
		Warmup:   500 * time.Millisecond,
		Measure:  3 * time.Second,
		CacheDir: t.TempDir(), Child: childCommand, Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res, "in", time.Since(start).Round(time.Millisecond))

	rep := res.Report
	if len(rep.Viewers) != 3 {
		t.Fatalf("%d viewers reported, want 2 and a late joiner", len(rep.Viewers))
	}
	// The late joiner watched part of the window, after its replay.
	late := slices.MaxFunc(rep.Viewers, func(a, b viewerReport) int { return cmp.Compare(a.JoinedNs, b.JoinedNs) })
	if late.ReplayExpected < 1 || late.ReplayLost != 0 || late.Lost != 0 {
		t.Errorf("late viewer: replay %d of %d lost, %d live lost: %+v", late.ReplayLost, late.ReplayExpected, late.Lost, late)
	}
	if late.Expected < 10 || late.Expected > 35 {
		t.Errorf("late viewer: %d live frames expected, want ~22 (half the window)", late.Expected)
	}
	if w := 3 * 3.0; res.ViewerSeconds < 2*w/3 || res.ViewerSeconds > w*0.9 {
		t.Errorf("%.2f viewer-seconds: want 2 × 3 s and about half of 3 s", res.ViewerSeconds)
	}
	for i, v := range rep.Viewers {
		if v.JoinedNs == late.JoinedNs {
			continue
		}
		if !v.FirstWasIDR {
			t.Errorf("viewer %d: the first complete frame was no IDR", i)
		}
		if v.FirstIDRMs <= 0 || v.FirstIDRMs > 5000 {
			t.Errorf("viewer %d: first IDR after %.1f ms", i, v.FirstIDRMs)
		}
		// 3 s at 15 fps: ~45 frames sent in the window.
		if v.Expected < 40 || v.Expected > 50 {
			t.Errorf("viewer %d: %d frames expected in the window, want ~45", i, v.Expected)
		}
		if v.Lost != 0 || v.TailUnknown {
			t.Errorf("viewer %d: %d frames lost (tail unknown %v): %+v", i, v.Lost, v.TailUnknown, v)
		}
	}
	// Every live frame has a latency but those of each viewer's first
	// second after connecting (its catch-up: at most 16 frames each; the
	// first two viewers' reach into this short window too).
	if rep.Received == 0 || rep.Latency.N > rep.Received || rep.Latency.N < rep.Received-3*16 {
		t.Errorf("%d latencies for %d frames received", rep.Latency.N, rep.Received)
	}
	if rep.Latency.P50 <= 0 || rep.Latency.Max >= 1000 {
		t.Errorf("latency p50 %.3f ms, max %.3f ms: want positive and under 1 s", rep.Latency.P50, rep.Latency.Max)
	}
	if res.IngestLatency.N == 0 || res.IngestLatency.P50 <= 0 || res.IngestLatency.P50 > rep.Latency.P50 {
		t.Errorf("ingest latency %+v against viewer latency p50 %.3f ms", res.IngestLatency, rep.Latency.P50)
	}
	if res.ServerCPU <= 0 || res.ViewersCPU <= 0 {
		t.Errorf("CPU: server %v, viewers %v", res.ServerCPU, res.ViewersCPU)
	}
}
