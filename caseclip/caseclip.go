// Package caseclip ties a case to its footage: the case's service
// intervals (from its events in ClickHouse) matched with the recorded
// segments of the windows that served it, and assembled into one clip.
// It is the one place that converts between the analytics index rows and
// the streaming segment descriptions.
package caseclip

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/media"
	"github.com/sunlight-gov/sunlight/streaming"
)

// Store is what the clips need from ClickHouse.
type Store interface {
	CaseIntervals(ctx context.Context, caseID string) ([]analytics.ServiceInterval, error)
	SegmentsBetween(ctx context.Context, window string, from, to time.Time) ([]analytics.SegmentRow, error)
}

// Interval is one service interval of a case, padded, with the segments
// recorded during it.
type Interval struct {
	// Index numbers the case's intervals in time order, from 1.
	Index  int       `json:"index"`
	Window string    `json:"window"`
	Hall   string    `json:"hall"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	// Unended tells that no service_ended was recorded: To is estimated.
	Unended  bool                    `json:"unended"`
	Segments []streaming.SegmentInfo `json:"segments"`
}

// Service finds and assembles case clips.
type Service struct {
	Store Store
	// Padding widens each service interval on both sides. Default 5s.
	Padding time.Duration
}

func (s *Service) padding() time.Duration {
	if s.Padding == 0 {
		return 5 * time.Second
	}
	return s.Padding
}

// Intervals returns the case's service intervals with their segments.
// A case with no events is apperr.NotFound.
func (s *Service) Intervals(ctx context.Context, caseID string) ([]Interval, error) {
	ivs, err := s.Store.CaseIntervals(ctx, caseID)
	if err != nil {
		return nil, err
	}
	out := make([]Interval, 0, len(ivs))
	for i, iv := range ivs {
		it := Interval{Index: i + 1, Window: iv.Window, Hall: iv.Hall, From: iv.Start.Add(-s.padding()),
			To: iv.End.Add(s.padding()), Unended: iv.Unended, Segments: []streaming.SegmentInfo{}}
		rows, err := s.Store.SegmentsBetween(ctx, iv.Window, it.From, it.To)
		if err != nil {
			return nil, fmt.Errorf("segments of %s: %w", iv.Window, err)
		}
		for _, r := range rows {
			it.Segments = append(it.Segments, SegmentInfo(r))
		}
		out = append(out, it)
	}
	return out, nil
}

// Clip assembles the case's footage: every interval, or only those of
// window (if not empty) and only interval number index (if not 0). The
// caller closes the clip. No interval at all, or none with footage, is
// apperr.NotFound with a message naming the intervals without footage.
func (s *Service) Clip(ctx context.Context, caseID, window string, index int) (*streaming.Clip, []Interval, error) {
	all, err := s.Intervals(ctx, caseID)
	if err != nil {
		return nil, nil, err
	}
	var chosen []Interval
	for _, iv := range all {
		if (window == "" || iv.Window == window) && (index == 0 || iv.Index == index) {
			chosen = append(chosen, iv)
		}
	}
	if len(all) == 0 {
		return nil, all, apperr.NoInterval.New(apperr.P{"case": caseID},
			"case %s has no service interval to show: no service_started at a window was recorded for it", caseID)
	}
	if len(chosen) == 0 {
		return nil, all, apperr.NoIntervalMatch.New(apperr.P{"case": caseID, "window": window, "interval": index, "count": len(all)},
			"case %s has no service interval matching window=%q interval=%d (it has %d)", caseID, window, index, len(all))
	}
	var (
		parts      []streaming.ClipPart
		partIvs    []Interval // the interval of each part
		missing    []string   // the intervals without footage, for the text
		unrecorded []int      // and their numbers, for the console
	)
	for _, iv := range chosen {
		if len(iv.Segments) == 0 {
			missing = append(missing, fmt.Sprintf("#%d %s %s..%s", iv.Index, iv.Window, iv.From.UTC().Format(time.RFC3339), iv.To.UTC().Format(time.RFC3339)))
			unrecorded = append(unrecorded, iv.Index)
			continue
		}
		parts = append(parts, streaming.ClipPart{Window: iv.Window, From: iv.From, To: iv.To, Segments: iv.Segments})
		partIvs = append(partIvs, iv)
	}
	if len(parts) == 0 {
		return nil, chosen, apperr.NoFootage.New(apperr.P{"case": caseID, "intervals": unrecorded},
			"case %s has no recorded footage: no recording for interval(s) %v", caseID, missing)
	}
	clip, err := streaming.BuildClip(parts)
	var none *streaming.ClipNoFootageError
	if errors.As(err, &none) {
		// Segments were indexed for these intervals but none covers them.
		unrecorded = unrecorded[:0]
		for _, p := range none.Parts {
			unrecorded = append(unrecorded, partIvs[p].Index)
		}
		return nil, chosen, apperr.NoFootage.New(apperr.P{"case": caseID, "intervals": unrecorded}, "%w", err)
	}
	if err != nil {
		return nil, chosen, err
	}
	return clip, chosen, nil
}

// SegmentInfo converts an index row to a segment description.
func SegmentInfo(row analytics.SegmentRow) streaming.SegmentInfo {
	return streaming.SegmentInfo{
		Window: row.Window, Path: row.Path, StreamID: row.StreamID, Codec: media.Codec(row.Codec), Seq: row.Seq,
		Start: row.Start, End: row.End, StartDTS: row.StartDTS, EndDTS: row.EndDTS, Duration: row.End.Sub(row.Start),
		Frames: row.Frames, Bytes: row.Bytes, GapBefore: row.GapBefore, Closed: row.Closed, Width: row.Width, Height: row.Height,
	}
}

// SegmentRow converts a segment description to an index row.
func SegmentRow(hall string, s streaming.SegmentInfo) analytics.SegmentRow {
	return analytics.SegmentRow{
		Window: s.Window, Hall: hall, Path: s.Path, StreamID: s.StreamID, Codec: string(s.Codec),
		Seq: s.Seq, Start: s.Start, End: s.End, StartDTS: s.StartDTS, EndDTS: s.EndDTS, Frames: s.Frames,
		Bytes: s.Bytes, GapBefore: s.GapBefore, Closed: s.Closed, Width: s.Width, Height: s.Height,
	}
}
