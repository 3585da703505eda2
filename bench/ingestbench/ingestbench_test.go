package ingestbench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// harness is the server the tests and benchmarks of one test binary run
// share: starting it (and its ClickHouse) takes seconds.
type harness struct {
	dir     string
	bin     string
	srv     *Server
	counter *Counter
	client  *Client
	seed    atomic.Int64 // the last workload's seed: each gets its own ids
}

var shared struct {
	once sync.Once
	h    *harness
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if h := shared.h; h != nil {
		if err := h.close(); err != nil {
			fmt.Fprintln(os.Stderr, "ingestbench:", err)
			code = max(code, 1)
		}
	}
	os.Exit(code)
}

// sharedHarness starts the shared server on first use.
func sharedHarness(tb testing.TB) *harness {
	tb.Helper()
	requireClickHouse(tb)
	shared.once.Do(func() { shared.h, shared.err = startHarness() })
	if shared.err != nil {
		tb.Fatalf("ingestbench: %v", shared.err)
	}
	if err := shared.h.srv.Exited(); err != nil {
		tb.Fatalf("ingestbench: %v\n%s", err, shared.h.srv.LogTail(40))
	}
	return shared.h
}

// requireClickHouse skips tb when no clickhouse-server is installed for
// serve to manage, unless the CI environment variable is set: then it
// fails it.
func requireClickHouse(tb testing.TB) {
	tb.Helper()
	if _, err := exec.LookPath("clickhouse-server"); err == nil {
		return
	}
	if _, err := os.Stat("/usr/sbin/clickhouse-server"); err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		tb.Fatal("clickhouse-server is not installed (make deps)")
	}
	tb.Skip("clickhouse-server is not installed (make deps)")
}

func startHarness() (*harness, error) {
	dir, err := os.MkdirTemp("", "ingestbench-")
	if err != nil {
		return nil, err
	}
	h := &harness{dir: dir}
	h.seed.Store(1000)
	ok := false
	defer func() {
		if !ok {
			_ = h.close()
		}
	}()
	if h.bin, err = findBinary(dir); err != nil {
		return nil, err
	}
	w, err := HallConfig{
		Dir:            dir,
		Halls:          envInt("SUNLIGHT_INGEST_HALLS", 10),
		WindowsPerHall: envInt("SUNLIGHT_INGEST_WINDOWS", 20),
		CatalogFile:    filepath.Join("..", "..", "deploy", "sunlight.example.yaml"),
		ClickHouseNice: envNice("SUNLIGHT_INGEST_CLICKHOUSE_NICE"),
	}.Write()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	start := time.Now()
	if h.srv, err = StartServer(ctx, h.bin, w, 2*time.Minute); err != nil {
		return nil, err
	}
	if h.counter, err = OpenCounter(ctx, w.ClickHouseTCP); err != nil {
		return nil, err
	}
	h.client = &Client{URL: h.srv.EventsURL(), APIKey: w.APIKey, HTTP: NewHTTPClient()}
	fmt.Fprintf(os.Stderr, "ingestbench: %s serve ready in %s (pid %d, clickhouse pid %d, %d windows)\n",
		h.bin, time.Since(start).Round(time.Millisecond), h.srv.PID(), h.srv.chPID, len(w.Config.Windows()))
	ok = true
	return h, nil
}

func (h *harness) close() error {
	var err error
	if h.counter != nil {
		h.counter.Close()
	}
	if h.srv != nil {
		err = h.srv.Close()
	}
	if rmErr := os.RemoveAll(h.dir); err == nil && rmErr != nil {
		err = rmErr
	}
	return err
}

// findBinary returns the server binary: $SUNLIGHT_BIN, else bin/sunlight
// of this repository (what make build produced), else one built now.
func findBinary(tmp string) (string, error) {
	if p := os.Getenv("SUNLIGHT_BIN"); p != "" {
		return p, nil
	}
	if p, err := filepath.Abs(filepath.Join("..", "..", "bin", "sunlight")); err == nil {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	p := filepath.Join(tmp, "sunlight")
	out, err := exec.Command("go", "build", "-o", p, "github.com/sunlight-gov/sunlight/cmd/sunlight").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build sunlight: %w\n%s", err, out)
	}
	return p, nil
}

// envNice reads a niceness (0 to 19) from the environment; nil when unset.
func envNice(name string) *int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 && v <= 19 {
		return &v
	}
	return nil
}

// workload generates n fresh events (ids never sent before to this
// server) in batches of batch.
func (h *harness) workload(tb testing.TB, n, batch int) *Workload {
	tb.Helper()
	start := time.Now()
	w, err := NewWorkload(h.srv.Config, h.seed.Add(1), n, batch, time.Now().Add(-time.Minute))
	if err != nil {
		tb.Fatal(err)
	}
	if len(w.IDPrefix) < 4 {
		tb.Fatalf("workload: the event ids share no prefix (%q) to count them by", w.IDPrefix)
	}
	tb.Logf("workload: %d events in %d bodies (%.1f MB), %s … %s, ids %s*, made in %s", w.Events, len(w.Bodies),
		float64(w.Bytes())/1e6, w.From.Format(time.DateOnly), w.To.Format(time.DateOnly), w.IDPrefix, time.Since(start).Round(time.Millisecond))
	return w
}

func (h *harness) total(tb testing.TB) uint64 {
	tb.Helper()
	n, err := h.counter.Total(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// waitArrived waits until the events table has want rows and returns when
// it first had them.
func (h *harness) waitArrived(tb testing.TB, want uint64, timeout time.Duration) time.Time {
	tb.Helper()
	at, err := h.counter.WaitTotal(context.Background(), want, 50*time.Millisecond, timeout)
	if err != nil {
		tb.Fatalf("%v\n%s", err, h.srv.LogTail(20))
	}
	return at
}

// requireExactlyOnce fails unless the rows of w's ids are want, each id
// once.
func (h *harness) requireExactlyOnce(tb testing.TB, w *Workload, want int) {
	tb.Helper()
	rows, ids, err := h.counter.Count(context.Background(), w.IDPrefix)
	if err != nil {
		tb.Fatal(err)
	}
	if rows != uint64(want) || ids != uint64(want) {
		tb.Fatalf("events %s*: %d rows with %d distinct ids in ClickHouse, want %d of each", w.IDPrefix, rows, ids, want)
	}
}

// logQueryProfiles logs ClickHouse's CPU by kind of query since since,
// when the server keeps its query log (SUNLIGHT_CLICKHOUSE_QUERY_LOG=1).
// Merges run in the background and are not in it.
func (h *harness) logQueryProfiles(tb testing.TB, since time.Time) {
	tb.Helper()
	if os.Getenv("SUNLIGHT_CLICKHOUSE_QUERY_LOG") == "" {
		return
	}
	time.Sleep(3 * time.Second) // the log is flushed every 2 s
	profiles, err := h.counter.QueryProfiles(context.Background(), since)
	if err != nil {
		tb.Logf("query log: %v", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ClickHouse CPU by query since the run began (merges not included):\n")
	for _, p := range profiles {
		if p.CPUSeconds < 0.01 {
			break
		}
		fmt.Fprintf(&b, "  %6.2f s  %4d×  read %9d  written %8d  %s\n", p.CPUSeconds, p.Count, p.ReadRows, p.WrittenRows, p.Query)
	}
	tb.Log(b.String())
}

func (h *harness) fail(tb testing.TB, err error) {
	tb.Helper()
	tb.Fatalf("%v\n%s", err, h.srv.LogTail(20))
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestIngestSmoke: 5,000 events through the real server at a modest rate
// arrive exactly once, and a batch posted again changes nothing.
func TestIngestSmoke(t *testing.T) {
	h := sharedHarness(t)
	ctx := context.Background()
	const n, batch, sentinel = 5000, 100, 100
	all := h.workload(t, n+sentinel, batch)
	w, last := all.Split(n / batch)
	before := h.total(t)

	// 2,000 events/s: 20 batches of 100 a second.
	res, err := OpenLoop(ctx, h.client, w, 50*time.Millisecond)
	if err != nil {
		h.fail(t, err)
	}
	h.waitArrived(t, before+n, 20*time.Second)
	h.requireExactlyOnce(t, all, n)
	t.Logf("%d events acknowledged, p99 %.1f ms; all in ClickHouse", n, quantile(res.Latencies, 0.99))

	// The same batch again is accepted and is a no-op. Fresh events
	// posted after it are a barrier: once they are in ClickHouse, an
	// intake that works in order has dealt with the re-sent batch.
	if err := h.client.Post(ctx, w.Bodies[0], w.Sizes[0]); err != nil {
		h.fail(t, fmt.Errorf("re-sent batch: %w", err))
	}
	if err := h.client.Post(ctx, last.Bodies[0], last.Sizes[0]); err != nil {
		h.fail(t, fmt.Errorf("barrier batch: %w", err))
	}
	h.waitArrived(t, before+n+sentinel, 20*time.Second)
	time.Sleep(200 * time.Millisecond) // a duplicate written just after the barrier
	h.requireExactlyOnce(t, all, n+sentinel)
	if got := h.total(t); got != before+n+sentinel {
		t.Fatalf("events table has %d rows, want %d", got, before+n+sentinel)
	}
}

// BenchmarkIngestThroughput posts SUNLIGHT_INGEST_EVENTS events (default
// 2,000,000) in batches of SUNLIGHT_INGEST_BATCH (1,000) from
// SUNLIGHT_INGEST_CLIENTS concurrent clients (8), as fast as the server
// answers. It reports events/s until every batch was answered 202
// (events/s-ack) and until ClickHouse holds every event (events/s-e2e,
// each event checked to be there exactly once), and the CPU seconds per
// million events of the server process, of its ClickHouse and of this
// load generator (they share the machine).
func BenchmarkIngestThroughput(b *testing.B) {
	h := sharedHarness(b)
	ctx := context.Background()
	n := envInt("SUNLIGHT_INGEST_EVENTS", 2_000_000)
	clients := envInt("SUNLIGHT_INGEST_CLIENTS", 8)
	batch := envInt("SUNLIGHT_INGEST_BATCH", 1000)
	var ack, e2e, srvCPU, chCPU, selfCPUs time.Duration
	runStart := time.Now()
	var events int
	retries0 := h.client.Retries()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		w := h.workload(b, n, batch)
		before := h.total(b)
		s0, c0, err := h.srv.CPU()
		if err != nil {
			b.Fatal(err)
		}
		self0 := selfCPU()
		b.StartTimer()

		start := time.Now()
		took, err := ClosedLoop(ctx, h.client, w, clients)
		if err != nil {
			h.fail(b, err)
		}
		seen := h.waitArrived(b, before+uint64(n), took+10*time.Minute)

		b.StopTimer()
		s1, c1, err := h.srv.CPU()
		if err != nil {
			b.Fatal(err)
		}
		selfCPUs += selfCPU() - self0
		ack += took
		e2e += seen.Sub(start)
		srvCPU += s1 - s0
		chCPU += c1 - c0
		events += n
		h.requireExactlyOnce(b, w, n)
	}
	h.logQueryProfiles(b, runStart)
	perM := func(d time.Duration) float64 { return d.Seconds() / (float64(events) / 1e6) }
	b.ReportMetric(float64(events)/ack.Seconds(), "events/s-ack")
	b.ReportMetric(float64(events)/e2e.Seconds(), "events/s-e2e")
	b.ReportMetric(perM(srvCPU), "cpu-s/Mevents-server")
	b.ReportMetric(perM(chCPU), "cpu-s/Mevents-clickhouse")
	b.ReportMetric(perM(selfCPUs), "cpu-s/Mevents-client")
	b.ReportMetric(float64(h.client.Retries()-retries0), "retries")
}

// BenchmarkIngestAckLatency offers SUNLIGHT_INGEST_RATE events/s (default
// 10,000: 100 batches of 100 a second) for SUNLIGHT_INGEST_SECONDS (20),
// each batch sent on schedule whatever the earlier answers, and reports
// the time from each batch's scheduled send to its 202 (p50, p99, max),
// then checks that every event arrived in ClickHouse exactly once and
// reports how long after the last 202 that was (s-visible-after-ack). A
// server slower than the offered load shows it in events/s-acked (below
// the rate) and in latencies that grow with the run.
//
// SUNLIGHT_INGEST_CLICKHOUSE_NICE=0 runs the managed ClickHouse at the
// server's priority (default: the server's default, nice 10).
func BenchmarkIngestAckLatency(b *testing.B) {
	h := sharedHarness(b)
	ctx := context.Background()
	rate := envInt("SUNLIGHT_INGEST_RATE", 10_000)
	seconds := envInt("SUNLIGHT_INGEST_SECONDS", 20)
	const batch = 100
	interval := time.Duration(float64(time.Second) * batch / float64(rate))
	n := rate * seconds / batch * batch
	var lat []time.Duration
	var late int
	var visible, elapsed time.Duration
	retries0 := h.client.Retries()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		w := h.workload(b, n, batch)
		before := h.total(b)
		b.StartTimer()
		res, err := OpenLoop(ctx, h.client, w, interval)
		if err != nil {
			h.fail(b, err)
		}
		acked := time.Now()
		visible += h.waitArrived(b, before+uint64(n), 10*time.Minute).Sub(acked)
		b.StopTimer()
		h.requireExactlyOnce(b, w, n)
		lat = append(lat, res.Latencies...)
		late += res.Late
		elapsed += res.Elapsed
		if res.Elapsed > time.Duration(seconds)*time.Second*11/10 {
			b.Logf("the offered load took %s instead of %d s: the server was slower than %d events/s", res.Elapsed.Round(time.Millisecond), seconds, rate)
		}
	}
	b.ReportMetric(quantile(lat, 0.50), "p50-ms")
	b.ReportMetric(quantile(lat, 0.99), "p99-ms")
	b.ReportMetric(quantile(lat, 1), "max-ms")
	b.ReportMetric(visible.Seconds()/float64(b.N), "s-visible-after-ack")
	b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "events/s-acked")
	b.ReportMetric(float64(late), "late-sends")
	b.ReportMetric(float64(h.client.Retries()-retries0), "retries")
}

// quantile returns the q-quantile of d in milliseconds (nearest rank).
func quantile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	i = min(max(i, 0), len(s)-1)
	return float64(s[i]) / float64(time.Millisecond)
}
