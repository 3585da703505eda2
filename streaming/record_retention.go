package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

// HeldRange is a stretch of one window's recording under legal hold: the
// service interval of a case an auditor has put on hold.
type HeldRange struct {
	Window   string
	From, To time.Time
}

// SweepResult says what one retention pass did.
type SweepResult struct {
	// Deleted segments, and why: "age" or "disk space".
	Deleted []SegmentInfo
	Reasons []string
	// Held counts the segments kept only because a legal hold covers them.
	Held int
	// DiskFull is true when free space stays under the threshold with
	// nothing left that may be deleted: recording must stop.
	DiskFull bool
}

// Retention deletes recorded segments by age and by free disk space,
// oldest first, never a segment a legal hold covers nor one being written.
type Retention struct {
	// Segments lists the recorded segments (from the index). Required.
	Segments func(ctx context.Context) ([]SegmentInfo, error)
	// Held lists the ranges under legal hold. Nil: none.
	Held func(ctx context.Context) ([]HeldRange, error)
	// Active reports the paths being written now. Nil: none.
	Active func() []string
	// Dir is the recordings folder, whose file system's free space counts.
	Dir string
	// MaxAge deletes segments that ended longer ago. Zero: no age limit.
	MaxAge time.Duration
	// MinFree is the share of the disk (0..1) to keep free. Default 0.05.
	MinFree float64
	// FreeSpace reports free and total bytes of Dir's file system.
	// Default: statfs.
	FreeSpace func(dir string) (free, total uint64, err error)
	// Remove deletes a segment's files. Default: the .mp4 and its sidecar.
	Remove func(SegmentInfo) error
	// OnDelete is told of deleted segments (to update the index).
	OnDelete func(ctx context.Context, deleted []SegmentInfo)
	// OnDiskFull is told when the disk becomes full (true) and when it has
	// room again (false).
	OnDiskFull func(full bool)
	// Interval between sweeps. Default 1 minute.
	Interval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger; nil discards.
	Logger *slog.Logger

	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup
	full   bool // last DiskFull reported; owned by the sweeping goroutine
}

// Initialize checks the configuration and starts periodic sweeps.
func (r *Retention) Initialize() error {
	if r.Segments == nil {
		return errors.New("retention: Segments is required")
	}
	r.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t := time.NewTicker(r.Interval)
		defer t.Stop()
		for {
			if _, err := r.Sweep(ctx); err != nil && ctx.Err() == nil {
				r.log.Warn("retention sweep failed", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// Close stops the sweeps and waits for a running one to end.
func (r *Retention) Close() {
	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
}

func (r *Retention) defaults() {
	if r.MinFree == 0 {
		r.MinFree = 0.05
	}
	if r.FreeSpace == nil {
		r.FreeSpace = statfsFree
	}
	if r.Remove == nil {
		r.Remove = removeSegment
	}
	if r.Interval <= 0 {
		r.Interval = time.Minute
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	r.log = r.Logger
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	r.log = r.log.With("component", "retention")
}

// Sweep runs one retention pass: first by age, then, while free space is
// under MinFree, the oldest segments whatever their age. Call it directly
// (with Initialize's defaults applied by the first call) from tests.
func (r *Retention) Sweep(ctx context.Context) (SweepResult, error) {
	if r.log == nil {
		r.defaults()
	}
	var res SweepResult
	segs, err := r.Segments(ctx)
	if err != nil {
		return res, fmt.Errorf("list segments: %w", err)
	}
	var held []HeldRange
	if r.Held != nil {
		if held, err = r.Held(ctx); err != nil {
			// Deleting without knowing the holds could destroy evidence.
			return res, fmt.Errorf("list legal holds (nothing deleted): %w", err)
		}
	}
	active := map[string]bool{}
	if r.Active != nil {
		for _, p := range r.Active() {
			active[p] = true
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].Start.Before(segs[j].Start) })

	now := r.Now()
	var candidates []SegmentInfo // deletable by space, oldest first
	for _, s := range segs {
		if active[s.Path] {
			continue
		}
		if isHeld(s, held) {
			res.Held++
			continue
		}
		if r.MaxAge > 0 && s.End.Before(now.Add(-r.MaxAge)) {
			if err := r.delete(s, "age", &res); err != nil {
				return res, err
			}
			continue
		}
		candidates = append(candidates, s)
	}
	free, total, err := r.FreeSpace(r.Dir)
	if err != nil {
		return res, fmt.Errorf("free space of %s: %w", r.Dir, err)
	}
	for float64(free) < r.MinFree*float64(total) {
		if len(candidates) == 0 {
			res.DiskFull = true
			break
		}
		if err := r.delete(candidates[0], "disk space", &res); err != nil {
			return res, err
		}
		candidates = candidates[1:]
		if free, total, err = r.FreeSpace(r.Dir); err != nil {
			return res, fmt.Errorf("free space of %s: %w", r.Dir, err)
		}
	}
	if len(res.Deleted) > 0 && r.OnDelete != nil {
		r.OnDelete(ctx, res.Deleted)
	}
	if res.DiskFull != r.full {
		r.full = res.DiskFull
		if res.DiskFull {
			r.log.Error("recording disk full: nothing left that may be deleted (held or being written)", "dir", r.Dir, "held", res.Held)
		} else {
			r.log.Info("recording disk has room again", "dir", r.Dir)
		}
		if r.OnDiskFull != nil {
			r.OnDiskFull(res.DiskFull)
		}
	}
	if len(res.Deleted) > 0 {
		r.log.Info("retention deleted segments", "count", len(res.Deleted), "held_kept", res.Held)
	}
	return res, nil
}

func (r *Retention) delete(s SegmentInfo, reason string, res *SweepResult) error {
	if err := r.Remove(s); err != nil {
		return fmt.Errorf("delete segment %s: %w", s.Path, err)
	}
	res.Deleted = append(res.Deleted, s)
	res.Reasons = append(res.Reasons, reason)
	return nil
}

// isHeld reports whether a legal hold covers any part of the segment.
func isHeld(s SegmentInfo, held []HeldRange) bool {
	for _, h := range held {
		if h.Window == s.Window && s.Start.Before(h.To) && h.From.Before(s.End) {
			return true
		}
	}
	return false
}

func removeSegment(s SegmentInfo) error {
	if err := os.Remove(s.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(sidecarPath(s.Path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func statfsFree(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}
