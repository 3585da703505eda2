package livebench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// viewersConfig configures the viewers' child process.
type viewersConfig struct {
	// WHEP is the endpoint's base URL; a window's is WHEP/<window>.
	WHEP      string   `json:"whep"`
	Cameras   []string `json:"cameras"`
	PerCamera int      `json:"per_camera"`
	// JoinEvery spaces the viewers' joins: one new viewer every
	// JoinEvery, cameras in turn, without waiting for the previous one.
	JoinEvery time.Duration `json:"join_every"`
	// ReadyTimeout bounds the wait for every viewer's first IDR.
	ReadyTimeout time.Duration `json:"ready_timeout"`
	// Grace is how long after the window the last frames may take.
	Grace time.Duration `json:"grace"`
	// LateJoins viewers join after the others are ready: one every
	// LateEvery from LateAfter after "ready" on (the first at LateAfter +
	// LateEvery), cameras in turn.
	// Each gets its GOP replay while the others watch, as in a hall where
	// inspectors come and go.
	LateJoins int           `json:"late_joins"`
	LateAfter time.Duration `json:"late_after"`
	LateEvery time.Duration `json:"late_every"`
}

// viewersReady is the viewers' "ready" message.
type viewersReady struct {
	Viewers int `json:"viewers"`
}

// viewersReport is the viewers' "report" message.
type viewersReport struct {
	Viewers []viewerReport `json:"viewers"`
	// Latency is arrival − send time of the window's live frames, all
	// viewers, but for each viewer's first second (CatchUp).
	Latency quantiles `json:"latency_ms"`
	// FirstIDR is the time from a viewer's POST to its first complete IDR;
	// Connect to its peer connected.
	FirstIDR quantiles `json:"first_idr_ms"`
	Connect  quantiles `json:"connect_ms"`
	// Frames of the window, all viewers.
	Expected    int `json:"expected"`
	Received    int `json:"received"`
	Lost        int `json:"lost"`
	TailUnknown int `json:"tail_unknown"`
	// The GOP replays at join, all viewers.
	ReplayExpected int `json:"replay_expected"`
	ReplayLost     int `json:"replay_lost"`
	// LateJoins viewers joined during the window.
	LateJoins int `json:"late_joins"`
	// CatchUp is over the viewers' latest catch-up frame (see catchUp).
	CatchUp quantiles `json:"catch_up_ms"`
	// BurstKB is over the viewers' most bytes within 10 ms.
	BurstKB quantiles `json:"burst_kb"`
	// FirstNotIDR counts viewers whose first complete frame was no IDR.
	FirstNotIDR int    `json:"first_not_idr"`
	Broken      uint64 `json:"broken"`
	LostPackets uint64 `json:"lost_packets"`
	Duplicates  uint64 `json:"duplicates"`
	Replayed    uint64 `json:"replayed"`
}

// quantiles summarises a sample, in ms.
type quantiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// quantilesOf returns the nearest-rank quantiles of a sample.
func quantilesOf(v []float64) quantiles {
	if len(v) == 0 {
		return quantiles{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return quantiles{N: len(s), P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: s[len(s)-1]}
}

// runViewers is the viewers' child process: it joins every viewer, says
// "ready" once each has its first IDR, and on "stop <t0> <t1>" (Unix ns,
// the measurement window) reports.
func runViewers(raw string) int {
	var cfg viewersConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "livebench viewers: config:", err)
		return 2
	}
	viewers, err := joinViewers(context.Background(), cfg)
	defer func() { closeViewers(viewers) }()
	if err != nil {
		fmt.Fprintln(os.Stderr, "livebench viewers:", err)
		return 1
	}

	deadline := time.NewTimer(cfg.ReadyTimeout)
	defer deadline.Stop()
	for _, v := range viewers {
		select {
		case <-v.gotIDR:
		case <-deadline.C:
			r, _ := v.window(0, 0)
			fmt.Fprintf(os.Stderr, "livebench viewers: a viewer of %s has no IDR after %s: %+v\n", v.camera, cfg.ReadyTimeout, r)
			return 1
		}
	}
	send("ready", viewersReady{Viewers: len(viewers)})
	all := &viewerSet{list: viewers}
	late := all.joinLate(cfg)

	var t0, t1 int64
	sc := bufio.NewScanner(os.Stdin)
	for t0 == 0 && sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "stop %d %d", &t0, &t1); err != nil {
			fmt.Fprintf(os.Stderr, "livebench viewers: unknown command %q\n", sc.Text())
		}
	}
	if t0 == 0 {
		return 1 // the parent is gone
	}
	time.Sleep(time.Until(time.Unix(0, t1).Add(cfg.Grace)))
	err = late.wait()
	viewers = all.get()
	if err != nil {
		fmt.Fprintln(os.Stderr, "livebench viewers: a late viewer:", err)
		return 1
	}
	rep := report(viewers, t0, t1)
	rep.LateJoins = cfg.LateJoins
	send("report", rep)
	if f := os.Getenv(envTrace); f != "" {
		if err := writeTrace(f, viewers, t0); err != nil {
			fmt.Fprintln(os.Stderr, "livebench viewers: trace:", err)
		}
	}
	return 0
}

// envTrace names a file that gets every frame every viewer received, as
// CSV (viewer, camera, frame counter, IDR, sent and arrived in ms from the
// window's start), to look at latency over time.
const envTrace = "LIVEBENCH_TRACE"

func writeTrace(file string, viewers []*viewer, t0 int64) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "viewer,camera,seq,idr,sent_ms,arrived_ms,latency_ms")
	for i, v := range viewers {
		v.mu.Lock()
		for _, fr := range v.frames {
			fmt.Fprintf(w, "%d,%s,%d,%v,%.3f,%.3f,%.3f\n", i, v.camera, fr.Seq, fr.IDR,
				ms(time.Duration(fr.Sent-t0)), ms(time.Duration(fr.Arrived-t0)), ms(time.Duration(fr.Arrived-fr.Sent)))
		}
		v.mu.Unlock()
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// joinViewers joins PerCamera viewers to each camera, one every JoinEvery.
func joinViewers(ctx context.Context, cfg viewersConfig) ([]*viewer, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	interfaces := loopbackInterfaces()
	var (
		mu      sync.Mutex
		viewers []*viewer
		errs    []error
		wg      sync.WaitGroup
	)
	tick := time.NewTicker(max(cfg.JoinEvery, time.Millisecond))
	defer tick.Stop()
	for range cfg.PerCamera {
		for _, cam := range cfg.Cameras {
			wg.Go(func() {
				v, err := dialViewer(ctx, client, viewerURL(cfg.WHEP, cam), cam, interfaces)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				viewers = append(viewers, v)
			})
			<-tick.C
		}
	}
	wg.Wait()
	return viewers, errors.Join(errs...)
}

// viewerSet is the viewers, late joiners included.
type viewerSet struct {
	mu   sync.Mutex
	list []*viewer
}

func (s *viewerSet) get() []*viewer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

// lateJoins is the late joiners' progress.
type lateJoins struct {
	done chan struct{}
	err  error
}

func (l *lateJoins) wait() error { <-l.done; return l.err }

// joinLate joins cfg.LateJoins viewers in the background (see
// viewersConfig).
func (s *viewerSet) joinLate(cfg viewersConfig) *lateJoins {
	l := &lateJoins{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		client := &http.Client{Timeout: 30 * time.Second}
		interfaces := loopbackInterfaces()
		time.Sleep(cfg.LateAfter)
		for i := range cfg.LateJoins {
			time.Sleep(cfg.LateEvery)
			cam := cfg.Cameras[i%len(cfg.Cameras)]
			v, err := dialViewer(context.Background(), client, viewerURL(cfg.WHEP, cam), cam, interfaces)
			if err != nil {
				l.err = errors.Join(l.err, err)
				continue
			}
			s.mu.Lock()
			s.list = append(s.list, v)
			s.mu.Unlock()
		}
	}()
	return l
}

// closeViewers ends every session (WHEP DELETE) and peer, all at once.
func closeViewers(viewers []*viewer) {
	var wg sync.WaitGroup
	for _, v := range viewers {
		wg.Go(v.close)
	}
	wg.Wait()
}

// report sums up the window [t0, t1) over the viewers.
func report(viewers []*viewer, t0, t1 int64) viewersReport {
	var (
		rep                 viewersReport
		lat, first, connect []float64
		bursts, catchUps    []float64
	)
	for _, v := range viewers {
		r, l := v.window(t0, t1)
		rep.Viewers = append(rep.Viewers, r)
		for _, d := range l {
			lat = append(lat, ms(d))
		}
		first = append(first, r.FirstIDRMs)
		connect = append(connect, r.ConnectMs)
		rep.Expected += r.Expected
		rep.Received += r.Received
		rep.Lost += r.Lost
		rep.ReplayExpected += r.ReplayExpected
		rep.ReplayLost += r.ReplayLost
		bursts = append(bursts, r.BurstKB)
		if r.CatchUpMaxMs > 0 {
			catchUps = append(catchUps, r.CatchUpMaxMs)
		}
		if r.TailUnknown {
			rep.TailUnknown++
		}
		if !r.FirstWasIDR {
			rep.FirstNotIDR++
		}
		rep.Broken += r.Assembler.Broken
		rep.LostPackets += r.Assembler.LostPackets
		rep.Duplicates += r.Assembler.Duplicates
		rep.Replayed += r.Replayed
	}
	slices.SortFunc(rep.Viewers, func(a, b viewerReport) int { return strings.Compare(a.Camera, b.Camera) })
	rep.Latency = quantilesOf(lat)
	rep.FirstIDR = quantilesOf(first)
	rep.Connect = quantilesOf(connect)
	rep.BurstKB = quantilesOf(bursts)
	rep.CatchUp = quantilesOf(catchUps)
	return rep
}
