package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/caseclip"
	"github.com/sunlight-gov/sunlight/internal/config"
	"github.com/sunlight-gov/sunlight/streaming"
)

// segmentIndex is the ClickHouse side of recording: the segment index and
// the legal holds that retention must respect.
type segmentIndex interface {
	UpsertSegments(ctx context.Context, rows []analytics.SegmentRow) error
	AllSegments(ctx context.Context) ([]analytics.SegmentRow, error)
	DeleteSegments(ctx context.Context, paths []string) error
	ActiveHolds(ctx context.Context) ([]analytics.Hold, error)
	CaseIntervals(ctx context.Context, caseID string) ([]analytics.ServiceInterval, error)
}

// holdMargin is added to a clip's padding around a held case's intervals:
// what a clip of the case shows is never deleted, even if the padding is
// raised later.
const holdMargin = 30 * time.Second

// recording runs one recorder per window, keeps the segment index in
// ClickHouse in step, and applies retention. When the disk is full it
// stops the recorders (live viewing goes on) and starts them again when
// retention has made room.
type recording struct {
	cfg     *config.Config
	streams *streaming.Registry
	index   segmentIndex
	hallOf  func(window string) string
	log     *slog.Logger
	// onDiskFull, if set, hears that recording stopped for a full disk
	// (to raise an alert).
	onDiskFull func(dir string)

	indexQueue chan streaming.SegmentInfo
	retention  *streaming.Retention
	wg         sync.WaitGroup // the index writer

	mu        sync.Mutex
	recorders map[string]*streaming.Recorder // guarded by mu
	open      map[string]string              // window -> path being written; guarded by mu
	stopped   bool                           // disk full: recorders closed; guarded by mu
}

func startRecording(ctx context.Context, cfg *config.Config, streams *streaming.Registry, index segmentIndex, log *slog.Logger, onDiskFull func(dir string)) (*recording, error) {
	cat := cfg.Catalog()
	r := &recording{
		cfg: cfg, streams: streams, index: index, log: log.With("component", "recording"), onDiskFull: onDiskFull,
		hallOf:     func(w string) string { h, _ := cat.WindowHall(w); return h },
		indexQueue: make(chan streaming.SegmentInfo, 4096),
		recorders:  map[string]*streaming.Recorder{},
		open:       map[string]string{},
	}
	if err := os.MkdirAll(cfg.Recording.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("recording.dir: %w", err)
	}
	if err := r.reconcile(ctx); err != nil {
		// The index is a cache of the disk: recording goes on without it
		// and the next start tries again.
		r.log.Warn("segment index not rebuilt", "err", err)
	}
	r.wg.Add(1)
	go r.writeIndex()
	r.startRecorders()
	r.retention = &streaming.Retention{
		Dir:      cfg.Recording.Dir,
		MaxAge:   time.Duration(cfg.Recording.RetentionDays) * 24 * time.Hour,
		MinFree:  float64(cfg.Recording.MinFreePercent) / 100,
		Segments: r.indexedSegments,
		Held:     r.heldRanges,
		Active:   r.activePaths,
		OnDelete: func(ctx context.Context, deleted []streaming.SegmentInfo) {
			paths := make([]string, len(deleted))
			for i, d := range deleted {
				paths[i] = d.Path
			}
			if err := r.index.DeleteSegments(ctx, paths); err != nil {
				r.log.Warn("segment index: delete failed (fixed at the next start)", "err", err)
			}
		},
		OnDiskFull: r.diskFull,
		Logger:     log,
	}
	if err := r.retention.Initialize(); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// reconcile makes the index agree with the files on disk: every segment
// found is (re)indexed, every row whose file is gone is deleted.
func (r *recording) reconcile(ctx context.Context) error {
	onDisk, scanErr := streaming.ScanSegments(r.cfg.Recording.Dir)
	if scanErr != nil {
		r.log.Warn("some segment files could not be read", "err", scanErr)
	}
	rows, err := r.index.AllSegments(ctx)
	if err != nil {
		return err
	}
	present := map[string]bool{}
	upserts := make([]analytics.SegmentRow, 0, len(onDisk))
	for _, s := range onDisk {
		present[s.Path] = true
		upserts = append(upserts, r.row(s))
	}
	var gone []string
	for _, row := range rows {
		if !present[row.Path] {
			gone = append(gone, row.Path)
		}
	}
	if len(upserts) > 0 {
		if err := r.index.UpsertSegments(ctx, upserts); err != nil {
			return err
		}
	}
	if len(gone) > 0 {
		if err := r.index.DeleteSegments(ctx, gone); err != nil {
			return err
		}
	}
	r.log.Info("segment index reconciled with disk", "segments", len(onDisk), "stale_rows_removed", len(gone))
	return nil
}

// startRecorders starts a recorder per window. r.mu is not held while a
// recorder starts: Initialize reports a repaired segment through onSegment,
// which takes r.mu.
func (r *recording) startRecorders() {
	for _, ref := range r.cfg.Windows() {
		id := ref.Window.ID
		stream, ok := r.streams.Stream(id)
		if !ok {
			continue
		}
		rec := &streaming.Recorder{
			Stream:          stream,
			Dir:             r.cfg.Recording.Dir,
			SegmentDuration: time.Duration(r.cfg.Recording.SegmentSeconds) * time.Second,
			Logger:          r.log,
			OnSegment:       r.onSegment,
		}
		if err := rec.Initialize(); err != nil {
			r.log.Error("recorder did not start", "window", id, "err", err)
			continue
		}
		r.mu.Lock()
		r.recorders[id] = rec
		r.mu.Unlock()
	}
}

func (r *recording) stopRecorders() {
	r.mu.Lock()
	recs := r.recorders
	r.recorders = map[string]*streaming.Recorder{}
	r.mu.Unlock()
	for _, rec := range recs {
		rec.Close()
	}
}

// onSegment runs on a recorder's goroutine: it must not wait for
// ClickHouse, so the row goes through a queue.
func (r *recording) onSegment(s streaming.SegmentInfo) {
	r.mu.Lock()
	if s.Closed {
		if r.open[s.Window] == s.Path {
			delete(r.open, s.Window)
		}
	} else {
		r.open[s.Window] = s.Path
	}
	r.mu.Unlock()
	select {
	case r.indexQueue <- s:
	default:
		r.log.Warn("segment index queue full: row dropped (fixed at the next start)", "path", s.Path)
	}
}

func (r *recording) writeIndex() {
	defer r.wg.Done()
	for s := range r.indexQueue {
		batch := []analytics.SegmentRow{r.row(s)}
		for more := true; more && len(batch) < 500; {
			select {
			case s, ok := <-r.indexQueue:
				if !ok {
					more = false
					break
				}
				batch = append(batch, r.row(s))
			default:
				more = false
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := r.index.UpsertSegments(ctx, batch); err != nil {
			r.log.Warn("segment index: write failed (fixed at the next start)", "rows", len(batch), "err", err)
		}
		cancel()
	}
}

func (r *recording) activePaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.open))
	for _, p := range r.open {
		out = append(out, p)
	}
	return out
}

func (r *recording) indexedSegments(ctx context.Context) ([]streaming.SegmentInfo, error) {
	rows, err := r.index.AllSegments(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]streaming.SegmentInfo, len(rows))
	for i, row := range rows {
		out[i] = caseclip.SegmentInfo(row)
	}
	return out, nil
}

// heldRanges turns the active legal holds into the footage they protect:
// the held cases' service intervals, padded.
func (r *recording) heldRanges(ctx context.Context) ([]streaming.HeldRange, error) {
	holds, err := r.index.ActiveHolds(ctx)
	if err != nil {
		return nil, err
	}
	var out []streaming.HeldRange
	for _, h := range holds {
		intervals, err := r.index.CaseIntervals(ctx, h.CaseID)
		if err != nil {
			return nil, fmt.Errorf("intervals of held case %s: %w", h.CaseID, err)
		}
		pad := time.Duration(r.cfg.Recording.ClipPaddingSeconds)*time.Second + holdMargin
		for _, iv := range intervals {
			out = append(out, streaming.HeldRange{Window: iv.Window, From: iv.Start.Add(-pad), To: iv.End.Add(pad)})
		}
	}
	return out, nil
}

func (r *recording) diskFull(full bool) {
	r.mu.Lock()
	was := r.stopped
	r.stopped = full
	r.mu.Unlock()
	switch {
	case full && !was:
		r.log.Error("recording stopped: the recording disk is full and everything on it is held or being written; live viewing goes on", "dir", r.cfg.Recording.Dir)
		r.stopRecorders()
		if r.onDiskFull != nil {
			r.onDiskFull(r.cfg.Recording.Dir)
		}
	case !full && was:
		r.log.Info("recording resumes: the recording disk has room again")
		r.startRecorders()
	}
}

func (r *recording) row(s streaming.SegmentInfo) analytics.SegmentRow {
	return caseclip.SegmentRow(r.hallOf(s.Window), s)
}

func (r *recording) close() {
	if r.retention != nil {
		r.retention.Close()
	}
	r.stopRecorders()
	close(r.indexQueue)
	r.wg.Wait()
}
