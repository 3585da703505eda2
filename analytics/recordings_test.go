package analytics_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/analytics"
	"github.com/sunlight-gov/sunlight/analytics/chtest"
)

var segBase = time.Date(2026, 11, 25, 1, 30, 0, 0, time.UTC)

// segAt returns a closed segment of window w covering [from, to) after
// segBase.
func segAt(w, path string, seq uint64, from, to time.Duration) analytics.SegmentRow {
	return analytics.SegmentRow{
		Window: w, Hall: "city-main", Path: path, StreamID: "s1", Codec: "H264", Seq: seq,
		Start: segBase.Add(from), End: segBase.Add(to),
		StartDTS: int64(from / time.Second * 90000), EndDTS: int64(to / time.Second * 90000),
		Frames: int((to - from) / time.Second * 25), Bytes: 1 << 20,
		Closed: true, Width: 1920, Height: 1080,
	}
}

func paths(rows []analytics.SegmentRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.Path)
	}
	return out
}

func TestUpsertSegmentsReplaces(t *testing.T) {
	s := chtest.Store(t)
	ctx := t.Context()

	open := segAt("A01", "/rec/A01/1.mp4", 1, 0, 0)
	open.Closed, open.Frames, open.Bytes, open.EndDTS = false, 0, 0, open.StartDTS
	open.GapBefore = true
	require.NoError(t, s.UpsertSegments(ctx, []analytics.SegmentRow{open}))

	closed := segAt("A01", "/rec/A01/1.mp4", 1, 0, 60*time.Second+250*time.Millisecond)
	closed.GapBefore = true
	require.NoError(t, s.UpsertSegments(ctx, []analytics.SegmentRow{closed}))

	all, err := s.AllSegments(ctx)
	require.NoError(t, err)
	require.Equal(t, []analytics.SegmentRow{closed}, all)

	// After a merge too.
	require.NoError(t, s.Conn().Exec(ctx, "OPTIMIZE TABLE recording_segments FINAL"))
	all, err = s.AllSegments(ctx)
	require.NoError(t, err)
	require.Equal(t, []analytics.SegmentRow{closed}, all)

	// Within one batch, the later row of a path wins.
	a := segAt("A02", "/rec/A02/1.mp4", 1, 0, 10*time.Second)
	b := a
	b.Bytes = 42
	require.NoError(t, s.UpsertSegments(ctx, []analytics.SegmentRow{a, b}))
	got, err := s.SegmentsBetween(ctx, "A02", segBase, segBase.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, []analytics.SegmentRow{b}, got)
}

func TestUpsertSegmentsRejectsBadRows(t *testing.T) {
	s := chtest.Store(t)
	for name, r := range map[string]analytics.SegmentRow{
		"no path":   {Window: "A01", Start: segBase, End: segBase},
		"no window": {Path: "/x", Start: segBase, End: segBase},
		"old time":  {Window: "A01", Path: "/x", Start: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), End: segBase},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.UpsertSegments(t.Context(), []analytics.SegmentRow{segAt("A01", "/ok", 1, 0, time.Second), r})
			require.ErrorIs(t, err, analytics.ErrInvalidSegment)
		})
	}
	all, err := s.AllSegments(t.Context())
	require.NoError(t, err)
	require.Empty(t, all)
}

func TestSegmentsBetween(t *testing.T) {
	s := chtest.Store(t)
	ctx := t.Context()
	ms := time.Millisecond
	segs := []analytics.SegmentRow{
		segAt("A01", "/rec/A01/1.mp4", 1, 0, 10*time.Second+500*ms),
		segAt("A01", "/rec/A01/2.mp4", 2, 10*time.Second+500*ms, 20*time.Second),
		segAt("A01", "/rec/A01/3.mp4", 3, 30*time.Second, 40*time.Second),
		segAt("A02", "/rec/A02/1.mp4", 1, 0, 40*time.Second),
	}
	// Inserted out of order: the result is ordered by start.
	require.NoError(t, s.UpsertSegments(ctx, []analytics.SegmentRow{segs[2], segs[0], segs[3]}))
	require.NoError(t, s.UpsertSegments(ctx, []analytics.SegmentRow{segs[1]}))

	at := func(d time.Duration) time.Time { return segBase.Add(d) }
	tests := []struct {
		name     string
		from, to time.Duration
		want     []string
	}{
		{"all", -time.Hour, time.Hour, []string{"/rec/A01/1.mp4", "/rec/A01/2.mp4", "/rec/A01/3.mp4"}},
		{"exactly the second", 10*time.Second + 500*ms, 20 * time.Second, []string{"/rec/A01/2.mp4"}},
		{"a millisecond across the cut", 10*time.Second + 499*ms, 10*time.Second + 501*ms, []string{"/rec/A01/1.mp4", "/rec/A01/2.mp4"}},
		{"ends where the first starts", -time.Minute, 0, nil},
		{"starts where the third ends", 40 * time.Second, time.Minute, nil},
		{"in the gap", 20 * time.Second, 30 * time.Second, nil},
		{"a millisecond into the third", 29 * time.Second, 30*time.Second + ms, []string{"/rec/A01/3.mp4"}},
		{"inside one", 12 * time.Second, 13 * time.Second, []string{"/rec/A01/2.mp4"}},
		{"empty range", 5 * time.Second, 5 * time.Second, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.SegmentsBetween(ctx, "A01", at(tt.from), at(tt.to))
			require.NoError(t, err)
			require.Equal(t, tt.want, paths(got))
		})
	}

	got, err := s.SegmentsBetween(ctx, "A01", at(0), at(11*time.Second))
	require.NoError(t, err)
	require.Equal(t, segs[:2], got, "rows round-trip")

	// A segment being written (End == Start, not closed) extends to now.
	open := segAt("A01", "/rec/A01/4.mp4", 4, 50*time.Second, 50*time.Second)
	open.Closed = false
	require.NoError(t, s.UpsertSegments(ctx, []analytics.SegmentRow{open}))
	got, err = s.SegmentsBetween(ctx, "A01", at(time.Minute), at(2*time.Minute))
	require.NoError(t, err)
	require.Equal(t, []string{"/rec/A01/4.mp4"}, paths(got))
	got, err = s.SegmentsBetween(ctx, "A01", at(0), at(50*time.Second))
	require.NoError(t, err)
	require.NotContains(t, paths(got), "/rec/A01/4.mp4")
}

func TestDeleteSegments(t *testing.T) {
	s := chtest.Store(t)
	ctx := t.Context()
	odd := "/rec/A01/it's a \\ \"strange\"\n\x00 名字.mp4"
	rows := []analytics.SegmentRow{
		segAt("A01", "/rec/A01/1.mp4", 1, 0, 10*time.Second),
		segAt("A01", odd, 2, 10*time.Second, 20*time.Second),
		segAt("A01", "/rec/A01/3.mp4", 3, 20*time.Second, 30*time.Second),
		segAt("A02", "/rec/A02/1.mp4", 1, 0, 10*time.Second),
	}
	require.NoError(t, s.UpsertSegments(ctx, rows))

	require.NoError(t, s.DeleteSegments(ctx, nil))
	require.NoError(t, s.DeleteSegments(ctx, []string{odd, "/rec/A02/1.mp4", "/not/indexed", odd, "x' OR 1 = 1 OR path = '"}))
	all, err := s.AllSegments(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"/rec/A01/1.mp4", "/rec/A01/3.mp4"}, paths(all))

	// A deleted path can be indexed again.
	require.NoError(t, s.UpsertSegments(ctx, rows[1:2]))
	all, err = s.AllSegments(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"/rec/A01/1.mp4", odd, "/rec/A01/3.mp4"}, paths(all))
}
