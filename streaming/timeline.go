package streaming

// timeline maps a track's PTS onto a continuous timeline that a reconnect
// or a jump does not break.
type timeline struct {
	started bool
	offset  int64 // TS = PTS + offset
	lastPTS int64
	lastTS  int64
	delta   int64 // the last frame spacing
}

// next maps a video PTS. A discontinuity, a step back or a jump beyond
// maxJump continues the timeline one frame spacing after the last frame.
func (t *timeline) next(pts int64, discontinuity bool, defaultDelta, maxJump int64) int64 {
	if !t.started {
		t.started = true
		t.offset = -pts
		t.delta = defaultDelta
		t.lastPTS, t.lastTS = pts, 0
		return 0
	}
	d := pts - t.lastPTS
	if discontinuity || d < 0 || d > maxJump {
		t.offset = t.lastTS + t.delta - pts
	} else if d > 0 {
		t.delta = d
	}
	ts := max(pts+t.offset, t.lastTS+1)
	t.lastPTS, t.lastTS = pts, ts
	return ts
}

// nextAudio maps an audio PTS (in the audio clock). When dur (the previous
// packet's sample count, known for G.711) is given and the PTS is within
// 40 ms of where the previous packet ended, the exact continuation is
// used: browsers want sample-exact audio timestamps.
func (t *timeline) nextAudio(pts int64, discontinuity bool, dur, rate int64) int64 {
	if !t.started {
		t.started = true
		t.offset = -pts
		t.lastPTS, t.lastTS, t.delta = pts, 0, dur
		return 0
	}
	expected := t.lastTS + t.delta
	ts := pts + t.offset
	switch {
	case discontinuity || ts < t.lastTS || ts-t.lastTS > 10*rate:
		ts = expected
		t.offset = ts - pts
	case t.delta > 0 && abs(ts-expected) <= rate/25:
		ts = expected
	}
	t.lastPTS, t.lastTS = pts, ts
	if dur > 0 {
		t.delta = dur
	} else {
		t.delta = 0
	}
	return ts
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
