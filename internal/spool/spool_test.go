package spool

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// With envCrashChild set the test binary becomes the crash-test child:
// it appends to the spool in that directory until it is killed.
const envCrashChild = "SPOOL_CRASH_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envCrashChild); dir != "" {
		os.Exit(runCrashChild(dir))
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

func openT(t *testing.T, cfg Config) *Spool {
	t.Helper()
	s, err := Open(cfg)
	require.NoError(t, err)
	return s
}

func recs(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = []byte(fmt.Sprintf(`{"event_id":"e-%06d","pad":"%s"}`, from+i, strings.Repeat("x", (from+i)%50)))
	}
	return out
}

// drain reads until nothing arrives within a short wait.
func drain(t *testing.T, s *Spool, maxRecords int) ([][]byte, Batch) {
	t.Helper()
	var all [][]byte
	var last Batch
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		b, err := s.Next(ctx, maxRecords, 0)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			return all, last
		}
		require.NoError(t, err)
		require.NotEmpty(t, b.Records)
		all = append(all, b.Records...)
		last = b
	}
}

func TestRoundtrip(t *testing.T) {
	s := openT(t, Config{Dir: t.TempDir()})
	defer s.Close()
	ctx := context.Background()
	var want [][]byte
	for i := 0; i < 10; i++ {
		r := recs(i*7, 7)
		want = append(want, r...)
		require.NoError(t, s.Append(ctx, r))
	}
	require.NoError(t, s.Append(ctx, [][]byte{{}})) // an empty payload is a record too
	want = append(want, []byte{})
	got, _ := drain(t, s, 13)
	require.Equal(t, len(want), len(got))
	for i := range want {
		require.Equal(t, string(want[i]), string(got[i]), "record %d", i)
	}
	st := s.Stats()
	require.EqualValues(t, len(want), st.Appended)
	require.EqualValues(t, len(want), st.PendingRecords)
	require.EqualValues(t, 11, st.Appends)
}

func TestNextCommitRewind(t *testing.T) {
	s := openT(t, Config{Dir: t.TempDir()})
	defer s.Close()
	ctx := context.Background()
	require.NoError(t, s.Append(ctx, recs(0, 10)))

	next := func(n, bytes int) []string {
		t.Helper()
		b, err := s.Next(ctx, n, bytes)
		require.NoError(t, err)
		var out []string
		for _, r := range b.Records {
			out = append(out, string(r[:21]))
		}
		return out
	}
	id := func(i int) string { return fmt.Sprintf(`{"event_id":"e-%06d`, i) }

	b1, err := s.Next(ctx, 3, 0)
	require.NoError(t, err)
	require.Len(t, b1.Records, 3)
	require.Equal(t, []string{id(3), id(4), id(5)}, next(3, 0), "Next continues after the previous batch")
	s.Rewind()
	require.Equal(t, []string{id(0), id(1), id(2)}, next(3, 0), "Rewind goes back to the committed cursor")
	require.NoError(t, s.Commit(b1))
	require.EqualValues(t, 7, s.Stats().PendingRecords)
	s.Rewind()
	require.Equal(t, []string{id(3), id(4)}, next(2, 0))
	require.NoError(t, s.Commit(b1), "committing an old batch again is a no-op")
	require.EqualValues(t, 7, s.Stats().PendingRecords)

	// Byte limit: one record always comes back, more only within budget.
	s.Rewind()
	require.Equal(t, []string{id(3)}, next(100, 1))
	require.Len(t, next(100, 2*len(recs(4, 1)[0])+1), 2)

	// A batch read before a Rewind and committed after it moves reading on.
	s.Rewind()
	b2, err := s.Next(ctx, 4, 0) // 3..6
	require.NoError(t, err)
	s.Rewind()
	require.NoError(t, s.Commit(b2))
	require.Equal(t, []string{id(7), id(8), id(9)}, next(100, 0))

	// Next blocks until an Append arrives, or its context ends.
	short, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	_, err = s.Next(short, 10, 0)
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded)
	got := make(chan []string, 1)
	go func() {
		b, err := s.Next(ctx, 10, 0)
		if err != nil {
			got <- []string{err.Error()}
			return
		}
		got <- []string{string(b.Records[0][:21])}
	}()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, s.Append(ctx, recs(10, 1)))
	require.Equal(t, []string{id(10)}, <-got)
}

func TestReopenResumesAfterCommittedCursor(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := Config{Dir: dir, SegmentBytes: 2048}
	s := openT(t, cfg)
	for i := 0; i < 20; i++ {
		require.NoError(t, s.Append(ctx, recs(i*5, 5)))
	}
	read := 0
	var commitAt Batch
	for read < 40 {
		b, err := s.Next(ctx, 7, 0)
		require.NoError(t, err)
		read += len(b.Records)
		if read <= 30 {
			commitAt = b
		}
	}
	require.NoError(t, s.Commit(commitAt))
	committed := int(s.Stats().Committed)
	require.Greater(t, committed, 0)
	require.NoError(t, s.Close())

	s = openT(t, cfg)
	st := s.Stats()
	require.EqualValues(t, 100-committed, st.PendingRecords)
	require.EqualValues(t, 100-committed, st.Recovered)
	got, _ := drain(t, s, 9)
	require.Len(t, got, 100-committed)
	for i, r := range got {
		require.Equal(t, string(recs(committed+i, 1)[0]), string(r))
	}
	// Appends continue after the recovered ones.
	require.NoError(t, s.Append(ctx, recs(100, 1)))
	more, last := drain(t, s, 9)
	require.Equal(t, [][]byte{recs(100, 1)[0]}, more)
	require.NoError(t, s.Commit(last))
	require.NoError(t, s.Close())

	s = openT(t, cfg)
	defer s.Close()
	require.Zero(t, s.Stats().PendingRecords, "everything was committed")
	require.Equal(t, 1, s.Stats().Segments, "delivered segments are gone")
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	seqs, err := listSegments(dir)
	require.NoError(t, err)
	require.NotEmpty(t, seqs)
	return segmentPath(dir, seqs[len(seqs)-1])
}

func TestTornTailIsDropped(t *testing.T) {
	last := recs(99, 1)[0]
	tests := []struct {
		name   string
		damage func(data []byte) []byte // of the last segment, whose last record is `last`
	}{
		{"truncated mid payload", func(d []byte) []byte { return d[:len(d)-len(last)/2] }},
		{"truncated mid header", func(d []byte) []byte { return d[:len(d)-len(last)-5] }},
		{"payload byte flipped", func(d []byte) []byte { d[len(d)-3] ^= 0x40; return d }},
		{"length byte flipped", func(d []byte) []byte { d[len(d)-len(last)-8] ^= 0x01; return d }},
		{"huge length", func(d []byte) []byte { d[len(d)-len(last)-5] = 0xff; return d }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			s := openT(t, Config{Dir: dir})
			require.NoError(t, s.Append(ctx, recs(0, 99)))
			require.NoError(t, s.Append(ctx, [][]byte{last}))
			require.NoError(t, s.Close())

			path := lastSegment(t, dir)
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, tt.damage(data), 0o600))

			s = openT(t, Config{Dir: dir})
			defer s.Close()
			require.Positive(t, s.Stats().DroppedBytes)
			require.EqualValues(t, 99, s.Stats().PendingRecords)
			require.NoError(t, s.Append(ctx, recs(200, 3)), "appends work after the tail is cut")
			got, _ := drain(t, s, 1000)
			want := append(recs(0, 99), recs(200, 3)...)
			require.Equal(t, want, got)
		})
	}
}

func TestTornTailAfterReopenWithGarbage(t *testing.T) {
	// Zeros after the last record (a crash after the size grew but before
	// the data hit the disk) are not records either.
	dir := t.TempDir()
	ctx := context.Background()
	s := openT(t, Config{Dir: dir})
	require.NoError(t, s.Append(ctx, recs(0, 5)))
	require.NoError(t, s.Close())
	f, err := os.OpenFile(lastSegment(t, dir), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 4096))
	require.NoError(t, err)
	require.NoError(t, f.Close())
	s = openT(t, Config{Dir: dir})
	defer s.Close()
	require.EqualValues(t, 4096, s.Stats().DroppedBytes)
	got, _ := drain(t, s, 100)
	require.Equal(t, recs(0, 5), got)
}

func TestFullLeavesDataAndRecoversAfterCommit(t *testing.T) {
	ctx := context.Background()
	sizeOf := func(rs [][]byte) (n int64) {
		for _, r := range rs {
			n += framedSize(len(r))
		}
		return n
	}
	// Room for the first three calls and not quite for the fourth.
	limit := sizeOf(recs(0, 30)) + sizeOf(recs(30, 10)) - 1
	s := openT(t, Config{Dir: t.TempDir(), MaxBytes: limit, SegmentBytes: 1024})
	defer s.Close()
	for i := 0; i < 3; i++ {
		require.NoError(t, s.Append(ctx, recs(i*10, 10)))
	}
	err := s.Append(ctx, recs(30, 10))
	require.ErrorIs(t, err, ErrFull)
	require.EqualValues(t, 30, s.Stats().PendingRecords, "nothing of the refused call is written")

	b, err := s.Next(ctx, 10, 0)
	require.NoError(t, err)
	require.Equal(t, recs(0, 10), b.Records)
	require.ErrorIs(t, s.Append(ctx, recs(30, 10)), ErrFull, "reading alone frees nothing")
	require.NoError(t, s.Commit(b))
	require.NoError(t, s.Append(ctx, recs(30, 10)))
	got, _ := drain(t, s, 1000)
	require.Equal(t, recs(10, 30), got)
}

func TestSegmentsRollAndAreDeleted(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	cfg := Config{Dir: dir, SegmentBytes: 1000}
	s := openT(t, cfg)
	for i := 0; i < 50; i++ {
		require.NoError(t, s.Append(ctx, recs(i*3, 3)))
	}
	st := s.Stats()
	require.Greater(t, st.Segments, 10)
	seqs, err := listSegments(dir)
	require.NoError(t, err)
	require.Len(t, seqs, st.Segments)
	for i := 1; i < len(seqs); i++ {
		require.Equal(t, seqs[i-1]+1, seqs[i], "sequence numbers increase by one")
		info, err := os.Stat(segmentPath(dir, seqs[i-1]))
		require.NoError(t, err)
		require.LessOrEqual(t, info.Size(), cfg.SegmentBytes)
	}

	// Commit in the middle: only the segments before the cursor go.
	b, err := s.Next(ctx, 75, 0)
	require.NoError(t, err)
	require.Len(t, b.Records, 75)
	require.NoError(t, s.Commit(b))
	remaining, err := listSegments(dir)
	require.NoError(t, err)
	require.Less(t, len(remaining), len(seqs))
	require.Equal(t, len(remaining), s.Stats().Segments)

	got, last := drain(t, s, 20)
	require.Equal(t, recs(75, 75), got)
	require.NoError(t, s.Commit(last))
	remaining, err = listSegments(dir)
	require.NoError(t, err)
	require.Len(t, remaining, 1, "only the active segment is left")
	require.NoError(t, s.Close())

	s = openT(t, cfg)
	defer s.Close()
	require.NoError(t, s.Append(ctx, recs(150, 3)))
	got, _ = drain(t, s, 20)
	require.Equal(t, recs(150, 3), got)
}

func TestConcurrentAppendsExactlyOnce(t *testing.T) {
	const writers, appends, per = 32, 40, 10
	s := openT(t, Config{Dir: t.TempDir(), SegmentBytes: 64 << 10})
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	seen := make(map[int][]int)
	consumed := make(chan error, 1)
	go func() {
		total := 0
		for total < writers*appends*per {
			b, err := s.Next(ctx, 1+rand.IntN(300), 0)
			if err != nil {
				consumed <- err
				return
			}
			if rand.IntN(4) == 0 {
				s.Rewind() // a failed delivery: the same records come again
				continue
			}
			for _, r := range b.Records {
				var w, n int
				if _, err := fmt.Sscanf(string(r), "w%d-n%d", &w, &n); err != nil {
					consumed <- err
					return
				}
				seen[w] = append(seen[w], n)
			}
			total += len(b.Records)
			if err := s.Commit(b); err != nil {
				consumed <- err
				return
			}
		}
		consumed <- nil
	}()

	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := 0; a < appends; a++ {
				batch := make([][]byte, per)
				for i := range batch {
					batch[i] = []byte(fmt.Sprintf("w%d-n%d %s", w, a*per+i, strings.Repeat("p", 180)))
				}
				if err := s.Append(ctx, batch); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, <-consumed)
	require.Len(t, seen, writers)
	for w, ns := range seen {
		require.Len(t, ns, appends*per, "writer %d", w)
		for i, n := range ns {
			require.Equal(t, i, n, "writer %d: every record once, in order", w)
		}
	}
	st := s.Stats()
	require.Zero(t, st.PendingRecords)
	require.EqualValues(t, writers*appends, st.Appends)
	t.Logf("%d appends shared %d fsyncs", st.Appends, st.Fsyncs)
}

func TestClosed(t *testing.T) {
	s := openT(t, Config{Dir: t.TempDir()})
	ctx := context.Background()
	require.NoError(t, s.Append(ctx, recs(0, 1)))
	b, err := s.Next(ctx, 1, 0)
	require.NoError(t, err)
	blocked := make(chan error, 1)
	go func() {
		_, err := s.Next(ctx, 1, 0)
		blocked <- err
	}()
	require.NoError(t, s.Close())
	require.ErrorIs(t, <-blocked, ErrClosed, "Close wakes a waiting Next")
	require.ErrorIs(t, s.Append(ctx, recs(1, 1)), ErrClosed)
	require.ErrorIs(t, s.Commit(b), ErrClosed)
	require.ErrorIs(t, s.Close(), ErrClosed)
}

func TestOpenRefusesASecondUserAndBadInput(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Config{Dir: dir})
	defer s.Close()
	_, err := Open(Config{Dir: dir})
	require.ErrorContains(t, err, "in use")
	_, err = Open(Config{})
	require.Error(t, err)

	err = s.Append(context.Background(), [][]byte{make([]byte, MaxRecordBytes+1)})
	require.ErrorIs(t, err, ErrTooLarge)
	require.Zero(t, s.Stats().PendingRecords)

	other := openT(t, Config{Dir: t.TempDir()})
	defer other.Close()
	require.NoError(t, other.Append(context.Background(), recs(0, 1)))
	b, err := other.Next(context.Background(), 1, 0)
	require.NoError(t, err)
	require.Error(t, s.Commit(b), "a batch of another spool")
}

func TestLargeRecordsAcrossBatches(t *testing.T) {
	s := openT(t, Config{Dir: t.TempDir(), SegmentBytes: 1 << 20})
	defer s.Close()
	ctx := context.Background()
	big := make([][]byte, 5)
	for i := range big {
		big[i] = []byte(strings.Repeat(strconv.Itoa(i), 300_000+i))
		require.NoError(t, s.Append(ctx, big[i:i+1]))
	}
	got, _ := drain(t, s, 100) // default 4 MiB budget, 1 MiB segments
	require.Equal(t, big, got)
	s.Rewind()
	b, err := s.Next(ctx, 100, 1000)
	require.NoError(t, err)
	require.Equal(t, big[:1], b.Records, "a record above the byte budget still comes alone")
}

// TestRandomizedRecovery runs rounds of appends, partial deliveries, clean
// or torn shutdowns and reopens against a model of what must be pending.
func TestRandomizedRecovery(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	dir := t.TempDir()
	ctx := context.Background()
	var pending [][]byte // the model: acknowledged, not committed, in order
	next := 0
	for round := 0; round < 12; round++ {
		cfg := Config{Dir: dir, SegmentBytes: int64(512 + rng.IntN(4096))}
		s := openT(t, cfg)
		require.EqualValues(t, len(pending), s.Stats().PendingRecords, "round %d", round)
		for i := rng.IntN(20); i > 0; i-- {
			r := recs(next, 1+rng.IntN(15))
			next += len(r)
			require.NoError(t, s.Append(ctx, r))
			pending = append(pending, r...)
		}
		if len(pending) > 0 && rng.IntN(3) > 0 {
			b, err := s.Next(ctx, 1+rng.IntN(len(pending)), 0)
			require.NoError(t, err)
			require.Equal(t, pending[:len(b.Records)], b.Records, "round %d", round)
			if rng.IntN(2) == 0 {
				require.NoError(t, s.Commit(b))
				pending = pending[len(b.Records):]
			}
		}
		require.NoError(t, s.Close())
		if rng.IntN(2) == 0 {
			// A torn, unacknowledged write: a prefix of a framed record.
			frame := appendRecord(nil, []byte(strings.Repeat("t", 1+rng.IntN(300))))
			f, err := os.OpenFile(lastSegment(t, dir), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = f.Write(frame[:rng.IntN(len(frame))])
			require.NoError(t, err)
			require.NoError(t, f.Close())
		}
	}
	s := openT(t, Config{Dir: dir})
	defer s.Close()
	got, _ := drain(t, s, 50)
	require.Equal(t, len(pending), len(got))
	for i := range pending {
		require.Equal(t, string(pending[i]), string(got[i]))
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasSuffix(e.Name(), ".tmp"), "leftover %s", filepath.Join(dir, e.Name()))
	}
}

func TestBatchSpansSeveralReads(t *testing.T) {
	// 10,000 records of ~250 bytes need several readChunkBytes reads and
	// cross segments; the default limits return them in one batch.
	s := openT(t, Config{Dir: t.TempDir(), SegmentBytes: 1 << 20})
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		require.NoError(t, s.Append(ctx, recs(i*100, 100)))
	}
	b, err := s.Next(ctx, 0, 0)
	require.NoError(t, err)
	require.Len(t, b.Records, defaultBatchRecords)
	for i, r := range b.Records {
		require.Equal(t, string(recs(i, 1)[0]), string(r))
	}
	require.NoError(t, s.Commit(b))
	require.Equal(t, 1, s.Stats().Segments)
}
