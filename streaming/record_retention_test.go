package streaming

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// retentionFixture is a folder of fake one-minute segments, each 1000 bytes,
// on a "disk" whose size is a quota: free space is the quota minus the
// bytes of the files present.
type retentionFixture struct {
	dir   string
	segs  []SegmentInfo
	quota uint64
	now   time.Time
	held  []HeldRange
}

func newRetentionFixture(t *testing.T, windows []string, n int, quota uint64) *retentionFixture {
	t.Helper()
	f := &retentionFixture{dir: t.TempDir(), quota: quota, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	for _, w := range windows {
		for i := 0; i < n; i++ {
			start := f.now.Add(-time.Duration(n-i) * time.Minute)
			p := filepath.Join(f.dir, fmt.Sprintf("%s_%02d.mp4", w, i))
			require.NoError(t, os.WriteFile(p, make([]byte, 1000), 0o644))
			f.segs = append(f.segs, SegmentInfo{Window: w, Path: p, Seq: uint64(i + 1), Start: start, End: start.Add(time.Minute), Bytes: 1000, Closed: true})
		}
	}
	return f
}

func (f *retentionFixture) retention() *Retention {
	return &Retention{
		Dir: f.dir,
		Segments: func(context.Context) ([]SegmentInfo, error) {
			var out []SegmentInfo
			for _, s := range f.segs {
				if _, err := os.Stat(s.Path); err == nil {
					out = append(out, s)
				}
			}
			return out, nil
		},
		Held: func(context.Context) ([]HeldRange, error) { return f.held, nil },
		FreeSpace: func(dir string) (uint64, uint64, error) {
			var used uint64
			entries, err := os.ReadDir(dir)
			if err != nil {
				return 0, 0, err
			}
			for _, e := range entries {
				info, err := e.Info()
				if err != nil {
					return 0, 0, err
				}
				used += uint64(info.Size())
			}
			return f.quota - used, f.quota, nil
		},
		Now: func() time.Time { return f.now },
	}
}

func (f *retentionFixture) exists(i int) bool {
	_, err := os.Stat(f.segs[i].Path)
	return err == nil
}

func TestRetentionByAgeKeepsHeld(t *testing.T) {
	f := newRetentionFixture(t, []string{"A01"}, 10, 1<<30)
	r := f.retention()
	r.MaxAge = 5 * time.Minute
	// A case served 12:00-8m .. 12:00-7m30s is on hold: segment 2 covers it.
	f.held = []HeldRange{{Window: "A01", From: f.now.Add(-8 * time.Minute), To: f.now.Add(-7*time.Minute - 30*time.Second)}}
	res, err := r.Sweep(context.Background())
	require.NoError(t, err)
	// Segments 0..3 ended more than 5 minutes ago (4 ends exactly then and
	// stays); 2 is held.
	require.Len(t, res.Deleted, 3)
	require.Equal(t, 1, res.Held)
	for i, want := range []bool{false, false, true, false, true, true, true, true, true, true} {
		require.Equal(t, want, f.exists(i), "segment %d", i)
	}
	for _, reason := range res.Reasons {
		require.Equal(t, "age", reason)
	}
	require.False(t, res.DiskFull)
}

func TestRetentionByDiskSpaceOldestFirst(t *testing.T) {
	// Two windows of 10 segments: 20000 bytes on a 25000-byte disk; keep
	// 40% free (10000 bytes): 5 segments must go, the oldest first.
	f := newRetentionFixture(t, []string{"A01", "A02"}, 10, 25000)
	r := f.retention()
	r.MinFree = 0.4
	f.held = []HeldRange{{Window: "A02", From: f.segs[10].Start, To: f.segs[10].End}} // A02's oldest
	var deletedIdx []int
	r.OnDelete = func(_ context.Context, deleted []SegmentInfo) {
		for _, d := range deleted {
			for i, s := range f.segs {
				if s.Path == d.Path {
					deletedIdx = append(deletedIdx, i)
				}
			}
		}
	}
	res, err := r.Sweep(context.Background())
	require.NoError(t, err)
	require.Len(t, res.Deleted, 5)
	require.True(t, f.exists(10), "the held segment survives")
	// Oldest first across windows: A01's 0,1,2 and A02's 11,12 (10 is held).
	require.ElementsMatch(t, []int{0, 11, 1, 12, 2}, deletedIdx)
	for i := 1; i < len(res.Deleted); i++ {
		require.False(t, res.Deleted[i].Start.Before(res.Deleted[i-1].Start), "oldest first")
	}
	require.Equal(t, "disk space", res.Reasons[0])
}

func TestRetentionDiskFullThenRoom(t *testing.T) {
	f := newRetentionFixture(t, []string{"A01"}, 4, 4500)
	r := f.retention()
	r.MinFree = 0.5
	active := f.segs[3].Path
	r.Active = func() []string { return []string{active} }
	f.held = []HeldRange{{Window: "A01", From: f.segs[0].Start, To: f.segs[2].End}}
	var full []bool
	r.OnDiskFull = func(v bool) { full = append(full, v) }

	res, err := r.Sweep(context.Background())
	require.NoError(t, err)
	require.True(t, res.DiskFull, "everything is held or being written")
	require.Empty(t, res.Deleted)
	_, err = r.Sweep(context.Background())
	require.NoError(t, err)
	require.Equal(t, []bool{true}, full, "reported once, not per sweep")

	f.held = nil // the hold is released
	res, err = r.Sweep(context.Background())
	require.NoError(t, err)
	require.False(t, res.DiskFull)
	require.Len(t, res.Deleted, 2, "4000 of 4500 used: two go to reach half free")
	require.True(t, f.exists(3), "the segment being written is never deleted")
	require.Equal(t, []bool{true, false}, full)
}

func TestRetentionKeepsEverythingWhenHoldsUnknown(t *testing.T) {
	f := newRetentionFixture(t, []string{"A01"}, 3, 1<<30)
	r := f.retention()
	r.MaxAge = time.Second
	r.Held = func(context.Context) ([]HeldRange, error) { return nil, errors.New("clickhouse down") }
	_, err := r.Sweep(context.Background())
	require.ErrorContains(t, err, "nothing deleted")
	for i := range f.segs {
		require.True(t, f.exists(i))
	}
}

func TestRetentionRemovesSidecar(t *testing.T) {
	f := newRetentionFixture(t, []string{"A01"}, 1, 1<<30)
	side := sidecarPath(f.segs[0].Path)
	require.NoError(t, os.WriteFile(side, []byte("{}"), 0o644))
	require.NoError(t, removeSegment(f.segs[0]))
	_, err := os.Stat(side)
	require.True(t, errors.Is(err, os.ErrNotExist))
}

func TestRetentionPeriodicSweep(t *testing.T) {
	f := newRetentionFixture(t, []string{"A01"}, 3, 1<<30)
	r := f.retention()
	r.MaxAge = time.Minute
	r.Interval = 10 * time.Millisecond
	require.NoError(t, r.Initialize())
	require.Eventually(t, func() bool { return !f.exists(0) }, 5*time.Second, 10*time.Millisecond)
	r.Close()
	require.True(t, f.exists(1), "ended exactly MaxAge ago: kept")
	require.True(t, f.exists(2))
}
