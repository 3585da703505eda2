package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/simulator"
)

// simulate runs a simulated hall: one RTSP camera per configured window and
// the hall's queue and case events, posted to the events API.
func simulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (required)")
	apiKey := fs.String("api-key", "", "event producer key, one of the config's auth.api_keys (required)")
	rtspListen := fs.String("rtsp-listen", "127.0.0.1:8554", "address of the simulated cameras' RTSP server")
	backfillFlag := fs.String("backfill", "", "first write this much history straight to ClickHouse, e.g. 30d or 12h, from the midnight (halls' time) before")
	speed := fs.Float64("speed", 1, "how fast simulated time runs until it catches up with the clock (1 = real time)")
	alwaysOpen := fs.Bool("always-open", false, "keep the hall open around the clock from 45 minutes before the start (demos at any hour); the history keeps real opening hours")
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same history")
	noCameras := fs.Bool("no-cameras", false, "do not serve RTSP cameras")
	noEvents := fs.Bool("no-events", false, "do not post live events")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	switch {
	case *configPath == "":
		return usageError{errors.New("--config is required")}
	case *apiKey == "" && !*noEvents:
		return usageError{errors.New("--api-key is required (the key whose SHA-256 is in the config's auth.api_keys)")}
	case *speed <= 0:
		return usageError{fmt.Errorf("--speed must be positive, not %v", *speed)}
	}
	if _, _, err := net.SplitHostPort(*rtspListen); err != nil {
		return usageError{fmt.Errorf("--rtsp-listen %q is not host:port", *rtspListen)}
	}
	backfill, err := parseSpan(*backfillFlag)
	if err != nil {
		return usageError{fmt.Errorf("--backfill: %w", err)}
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	tl := &simulator.Timeline{Config: cfg, Seed: *seed, AlwaysOpen: *alwaysOpen}
	if *alwaysOpen {
		// The history keeps the real opening hours, so that the
		// dashboards' hour-of-day patterns look like a real hall's; the
		// hall went over to around-the-clock hours a while ago, so that the
		// live hall has queues and services in progress from the start.
		if tl.AlwaysOpenFrom, err = alwaysOpenFrom(tl, cfg.DataDir, backfill > 0, time.Now()); err != nil {
			return err
		}
		log.Info("simulated hall open around the clock", "since", tl.AlwaysOpenFrom)
	}

	if !*noCameras {
		cams := &simulator.CameraServer{
			Address:  *rtspListen,
			CacheDir: filepath.Join(cfg.DataDir, "sim-cache"),
			Logger:   log,
		}
		for _, ref := range cfg.Windows() {
			cams.Windows = append(cams.Windows, ref.Window.ID)
		}
		log.Info("preparing simulated cameras (first run renders a clip per window with ffmpeg)", "windows", len(cams.Windows))
		if err := cams.Initialize(); err != nil {
			return fmt.Errorf("cameras: %w", err)
		}
		defer cams.Close()
		log.Info("cameras serving", "example", cams.URL(cams.Windows[0]))
	}

	base, client, err := serverClient(cfg)
	if err != nil {
		return err
	}
	live := &simulator.Live{
		Timeline: tl,
		Poster:   &simulator.Poster{URL: base + "/api/v1/events", Client: client, APIKey: *apiKey, Logger: log},
		Speed:    *speed,
		Logger:   log,
	}
	if *alwaysOpen {
		// The live run begins where the history ends, when the hall went
		// always-open: the visits since then reach the server's tracker
		// whole. Restarted a day or more later, it begins at the start of
		// the hall's current day (its days run from that time of day),
		// when an always-open hall has nobody in it.
		live.From = tl.AlwaysOpenFrom
		if days := time.Since(live.From) / (24 * time.Hour); backfill == 0 && days > 0 {
			live.From = live.From.Add(days * 24 * time.Hour)
		}
	}
	if backfill > 0 {
		// History ends where the live run begins (today's opening when
		// fast-forwarding), so the two neither overlap nor leave a gap.
		to := live.StartAt(time.Now())
		if *alwaysOpen {
			to = live.From
		}
		if err := runBackfill(ctx, cfg, tl, dayStart(to.Add(-backfill), cfg.Location()), to, stdout); err != nil {
			return err
		}
	}

	var wg sync.WaitGroup
	if !*noEvents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := live.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("live events stopped", "err", err)
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// dayStart is the midnight (in loc) that begins t's day. A history begins
// there: begun in the middle of a day, its first visits and services would
// be cut in two (a call whose ticket was issued before the history began).
func dayStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// alwaysOpenWarmUp is how long before a new history ends the simulated
// hall goes over to always-open hours: long enough for queues to form and
// services to be under way when the live run begins, short enough that its
// catch-up events are not reported as late (analytics.DefaultLateAfter).
const alwaysOpenWarmUp = 45 * time.Minute

// alwaysOpenFrom is when the simulated hall of dataDir went over to
// always-open hours. A new history (fresh) sets it, to about now less the
// warm-up (simulator.DemoAlwaysOpenFrom picks the moment); later runs read
// it, so that a restarted simulator generates the same day as the history
// it continues (and so the same tickets and case ids). It is kept in
// dataDir/simulator/always-open-from.
func alwaysOpenFrom(tl *simulator.Timeline, dataDir string, fresh bool, now time.Time) (time.Time, error) {
	path := filepath.Join(dataDir, "simulator", "always-open-from")
	if !fresh {
		if b, err := os.ReadFile(path); err == nil {
			if t, err := time.Parse(time.RFC3339, strings.TrimSpace(string(b))); err == nil && !t.After(now) {
				return t, nil
			}
		}
	}
	t := simulator.DemoAlwaysOpenFrom(tl, now, alwaysOpenWarmUp)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return t, fmt.Errorf("simulator state: %w", err)
	}
	if err := os.WriteFile(path, []byte(t.UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return t, fmt.Errorf("simulator state: %w", err)
	}
	return t, nil
}

// backfillWaitForClickHouse is how long a backfill waits for ClickHouse to
// answer: the demo starts the simulated cameras first, then the server and
// its managed ClickHouse, so that the server finds its cameras up.
const backfillWaitForClickHouse = 2 * time.Minute

// waitForStore opens the store, trying again every second for up to wait;
// it says once on out that it is waiting.
func waitForStore(ctx context.Context, cfg analytics.StoreConfig, wait time.Duration, out io.Writer) (*analytics.Store, error) {
	deadline := time.Now().Add(wait)
	for said := false; ; said = true {
		store, err := analytics.OpenStore(ctx, cfg)
		if err == nil || ctx.Err() != nil || time.Now().After(deadline) {
			return store, err
		}
		if !said {
			fmt.Fprintf(out, "backfill: waiting for ClickHouse at %v\n", cfg.Addr)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// runBackfill writes the history from..to straight to ClickHouse (the
// configured server, or the managed one that serve runs): the events, and
// the facts a tracker of its own derives from them (visits, window spans,
// cases, ratings), as serve's event writer would. The visits still open at
// `to` (today's) are left to the live run: their facts are not written.
func runBackfill(ctx context.Context, cfg *config.Config, tl *simulator.Timeline, from, to time.Time, stdout io.Writer) error {
	addrs := cfg.ClickHouse.Addr
	if len(addrs) == 0 {
		addrs = []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.ClickHouse.Managed.TCPPort))}
	}
	store, err := waitForStore(ctx, analytics.StoreConfig{
		Addr: addrs, Database: cfg.ClickHouse.Database,
		Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password,
		Cluster: cfg.ClickHouse.Cluster,
		History: true, // received on time, not late
	}, backfillWaitForClickHouse, stdout)
	if err != nil {
		return fmt.Errorf("backfill needs ClickHouse at %v (`sunlight serve` starts it when it is managed): %w", addrs, err)
	}
	defer store.Close()
	w := &analytics.EventWriter{Store: store, Tracker: uniqueEventsTracker(cfg), Location: cfg.Location()}
	// Backfill prints its progress and a closing "backfill done" line.
	if _, err := simulator.Backfill(ctx, tl, w, from, to, stdout); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	if err := w.Flush(ctx, to); err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	return nil
}

// parseSpan reads a span such as 30d, 12h or 90m ("" is zero).
func parseSpan(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3660 {
			return 0, fmt.Errorf("%q is not a number of days like 30d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a span like 30d, 12h or 90m", s)
	}
	return d, nil
}

// serverClient is how a command of this machine reaches the server of cfg:
// its base URL (https:// when tls is set) and a client that trusts the
// system's roots and, beside them, tls.cert_file itself, so that a
// self-signed certificate (make demo's) is trusted too.
func serverClient(cfg *config.Config) (string, *http.Client, error) {
	if !cfg.TLS.Enabled() {
		return "http://" + cfg.Listen, &http.Client{Timeout: 30 * time.Second}, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	pemData, err := os.ReadFile(cfg.TLS.CertFile)
	if err != nil {
		return "", nil, fmt.Errorf("tls.cert_file: %w", err)
	}
	roots.AppendCertsFromPEM(pemData)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return "https://" + cfg.Listen, &http.Client{Timeout: 30 * time.Second, Transport: tr}, nil
}
