package streaming

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sunlight-gov/sunlight/internal/apperr"
	"github.com/sunlight-gov/sunlight/internal/media"
)

// writeUnits writes units[from:to] with PTS continuing from their index.
func writeUnits(s *Stream, units []*media.Unit, from, to int, strip bool) {
	for i := from; i < to; i++ {
		u := *units[i%len(units)]
		if strip {
			u = *withoutParameterSets(&u)
		}
		u.PTS = int64(i) * frameTicks
		s.WriteVideo(&u)
	}
}

func next(t *testing.T, r *Reader) Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := r.Next(ctx)
	require.NoError(t, err)
	return d
}

func TestStreamNewReaderGetsGOPWithParameterSets(t *testing.T) {
	units := cameraUnits(t)
	s := NewStream("w1", cameraTrack(t), nil)
	defer s.Close()
	// The camera sends no SPS/PPS in band: the stream prepends them.
	writeUnits(s, units, 0, 45, true) // an IDR at 30, then 14 P-frames

	r, err := s.AddReader(ReaderConfig{Name: "viewer"})
	require.NoError(t, err)
	d := next(t, r)
	require.True(t, d.Replay)
	require.Len(t, d.Frames, 15)
	first := d.Frames[0]
	require.True(t, first.IDR)
	require.Equal(t, []byte{h264NALSPS, h264NALPPS}, []byte{h264Type(first.Unit.AU[0]), h264Type(first.Unit.AU[1])})
	for i := 1; i < len(d.Frames); i++ {
		require.False(t, d.Frames[i].IDR)
		require.Equal(t, d.Frames[i-1].Seq+1, d.Frames[i].Seq)
		require.Greater(t, d.Frames[i].TS, d.Frames[i-1].TS)
	}

	// Then live frames, in order.
	writeUnits(s, units, 45, 47, true)
	for i := 0; i < 2; i++ {
		d = next(t, r)
		require.False(t, d.Replay)
		require.Equal(t, int64(45+i)*frameTicks, d.Frames[0].TS)
	}
}

func TestStreamReaderWithoutCacheStartsAtIDR(t *testing.T) {
	units := cameraUnits(t)
	s := NewStream("w1", cameraTrack(t), nil)
	defer s.Close()
	r, err := s.AddReader(ReaderConfig{})
	require.NoError(t, err)
	// The stream starts mid-GOP: nothing for the reader until the IDR.
	writeUnits(s, units, 20, 32, false)
	d := next(t, r)
	require.True(t, d.Replay, "the IDR arrived in the meantime: the reader starts with the cached GOP")
	require.True(t, d.Frames[0].IDR)
	require.Equal(t, int64(30-20)*frameTicks, d.Frames[0].TS)
}

func TestStreamSlowReader(t *testing.T) {
	units := cameraUnits(t)
	s := NewStream("w1", cameraTrack(t), nil)
	defer s.Close()
	writeUnits(s, units, 0, 1, false)

	slow, err := s.AddReader(ReaderConfig{Name: "slow", QueueSize: 8})
	require.NoError(t, err)
	fast, err := s.AddReader(ReaderConfig{Name: "fast", QueueSize: 8})
	require.NoError(t, err)
	require.True(t, next(t, slow).Replay)

	// The fast reader reads everything while the slow one reads nothing;
	// the writer must never wait for either.
	const total = 200
	got := make(chan int, 1)
	go func() {
		n := 0
		for n < total {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			d, err := fast.Next(ctx)
			cancel()
			if err != nil {
				break
			}
			n += len(d.Frames)
		}
		got <- n
	}()
	start := time.Now()
	for i := 1; i < total; i++ {
		u := *units[i%len(units)]
		u.PTS = int64(i) * frameTicks
		s.WriteVideo(&u)
		time.Sleep(200 * time.Microsecond) // let the fast reader keep up
	}
	writeDur := time.Since(start)
	require.Equal(t, total, <-got, "the fast reader lost nothing")
	require.Less(t, writeDur, 2*time.Second)

	st := slow.Stats()
	require.Greater(t, st.Drops, uint64(100), "the slow reader's drops are counted")
	require.Zero(t, fast.Stats().Drops)
	require.Equal(t, st.Drops, s.Stats().Drops)

	// Resumed, the slow reader gets what was queued, then nothing until
	// an IDR: never a P-frame after a gap.
	var frames []*Frame
	for i := 0; i < 8; i++ {
		frames = append(frames, next(t, slow).Frames...)
	}
	for i := 1; i < len(frames); i++ {
		require.Equal(t, frames[i-1].Seq+1, frames[i].Seq)
	}
	writeUnits(s, units, total, total+testGOP+2, false)
	d := next(t, slow)
	require.True(t, d.Frames[0].IDR, "after a gap the reader restarts at an IDR")
	require.Greater(t, d.Frames[0].Seq, frames[len(frames)-1].Seq+1)
}

func TestStreamKeyframeRequestReplaysGOP(t *testing.T) {
	units := cameraUnits(t)
	s := NewStream("w1", cameraTrack(t), nil)
	defer s.Close()
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	writeUnits(s, units, 0, 5, false)
	r, err := s.AddReader(ReaderConfig{})
	require.NoError(t, err)
	require.True(t, next(t, r).Replay)
	writeUnits(s, units, 5, 8, false)

	// Too soon after the start: coalesced until the interval passes.
	r.RequestKeyframe()
	d := next(t, r)
	require.False(t, d.Replay)
	now = now.Add(time.Second)
	d = next(t, r)
	require.True(t, d.Replay)
	require.Len(t, d.Frames, 8, "the queued frames are in the replay, not sent twice")
	require.True(t, d.Frames[0].IDR)
	writeUnits(s, units, 8, 9, false)
	d = next(t, r)
	require.Equal(t, int64(8)*frameTicks, d.Frames[0].TS)
	require.Equal(t, uint64(2), r.Stats().Replays)
}

func TestStreamDiscontinuity(t *testing.T) {
	units := cameraUnits(t)
	s := NewStream("w1", cameraTrack(t), nil)
	defer s.Close()
	writeUnits(s, units, 0, 10, false)
	r, err := s.AddReader(ReaderConfig{})
	require.NoError(t, err)
	d := next(t, r)
	lastTS := d.Frames[len(d.Frames)-1].TS

	// The camera reconnects mid-GOP, its PTS restarting at 0.
	p := *units[12]
	p.PTS, p.Discontinuity = 0, true
	s.WriteVideo(&p)
	require.Zero(t, s.Stats().GOPFrames, "a P-frame of a new session cannot extend the old GOP")
	idr := *units[30]
	idr.PTS = frameTicks
	s.WriteVideo(&idr)
	d = next(t, r)
	require.True(t, d.Frames[0].IDR, "the reader skips to the IDR")
	require.Greater(t, d.Frames[0].TS, lastTS, "the timeline goes on")
}

func TestStreamCodecChangeEndsReaders(t *testing.T) {
	s := NewStream("w1", cameraTrack(t), nil)
	defer s.Close()
	r, err := s.AddReader(ReaderConfig{})
	require.NoError(t, err)
	s.SetVideoTrack(media.Track{Codec: media.H265})
	_, err = r.Next(context.Background())
	require.ErrorIs(t, err, ErrCodecChanged)
}

func TestStreamCloseAndReady(t *testing.T) {
	units := cameraUnits(t)
	s := NewStream("w1", cameraTrack(t), nil)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }

	require.ErrorIs(t, s.Ready(), apperr.Unavailable, "no video yet")
	writeUnits(s, units, 0, 1, false)
	require.NoError(t, s.Ready())
	now = now.Add(time.Minute)
	require.ErrorIs(t, s.Ready(), apperr.Unavailable, "stale")

	r, err := s.AddReader(ReaderConfig{})
	require.NoError(t, err)
	s.Close()
	_, err = r.Next(context.Background())
	require.True(t, errors.Is(err, ErrStreamClosed))
	_, err = s.AddReader(ReaderConfig{})
	require.ErrorIs(t, err, apperr.Unavailable)
	s.WriteVideo(units[0]) // ignored
}

func TestStreamAudioPassesThrough(t *testing.T) {
	units := cameraUnits(t)
	s := NewStream("w1", cameraTrack(t), nil)
	defer s.Close()
	s.SetAudioTrack(media.Track{Codec: media.PCMU, ClockRate: 8000, Channels: 1})
	writeUnits(s, units, 0, 1, false)
	video, err := s.AddReader(ReaderConfig{})
	require.NoError(t, err)
	both, err := s.AddReader(ReaderConfig{Audio: true})
	require.NoError(t, err)
	next(t, video)
	next(t, both)
	// 20 ms packets whose PTS jitter a little: timestamps stay sample-exact.
	for i := 0; i < 3; i++ {
		s.WriteAudio(&media.Unit{PTS: int64(i)*1800 + int64(i%2)*90, Payload: make([]byte, 160)})
	}
	for i := 0; i < 3; i++ {
		d := next(t, both)
		require.Equal(t, KindAudio, d.Frames[0].Kind)
		require.Equal(t, int64(i*160), d.Frames[0].TS)
	}
	require.Zero(t, video.Stats().Queued, "a video-only reader gets no audio")
}

func TestTimelineContinuity(t *testing.T) {
	var tl timeline
	var got []int64
	for _, in := range []struct {
		pts  int64
		disc bool
	}{{1000, false}, {7000, false}, {13000, false}, {500, true}, {6500, false}, {-100000, false}, {1 << 40, false}} {
		got = append(got, tl.next(in.pts, in.disc, 6000, 10*media.ClockRate))
	}
	require.Equal(t, []int64{0, 6000, 12000, 18000, 24000, 30000, 36000}, got)
}

// BenchmarkStreamWrite measures WriteVideo (packetizing once and queueing
// to every reader) with 16 readers that keep up.
func BenchmarkStreamWrite(b *testing.B) {
	units := cameraUnits(b)
	s := NewStream("w1", cameraTrack(b), nil)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	const readers = 16
	for range readers {
		r, err := s.AddReader(ReaderConfig{QueueSize: 4096})
		require.NoError(b, err)
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				if _, err := r.Next(ctx); err != nil {
					return
				}
			}
		}()
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u := *units[i%len(units)]
		u.PTS = int64(i) * frameTicks
		s.WriteVideo(&u)
		i++
	}
	cancel()
	for range readers {
		<-done
	}
}
