// Package supervision is the real-time supervision engine (电子监察): it
// follows the live queue and cases through its own tracker and raises an
// alert the moment a rule's condition becomes true, as events arrive and
// as the clock advances (never a nightly batch). Each condition raises
// one alert, once, with an ID derived from the condition, so that a
// restart or a replay raises the same IDs and MarkRaised can suppress
// them.
package supervision

import "time"

// Rules are the thresholds of the supervision rules. A zero field takes
// its default.
type Rules struct {
	// CaseWarnShare: a case turns yellow once this share of its time limit
	// has passed, counting its working days as 24 hours each (the
	// calendar knows no office hours). Default 0.8.
	CaseWarnShare float64
	// CaseWarnWorkdays: a case also turns yellow once only this many
	// working days remain, the current one included. The accepting day
	// does not count toward the limit, so the default 1 means: from the
	// start (local midnight) of the last working day. Yellow fires at the
	// earlier of the two moments. Default 1.
	CaseWarnWorkdays int
	// MaxHandling: a service (call to end) longer than this overruns its
	// step (yellow), raised while it is still in progress. Default 45 min.
	// Items have no limit of their own in the configuration yet.
	MaxHandling time.Duration
	// UnattendedAfter: a window open, with tickets waiting for its items,
	// that neither serves nor calls anyone for this long is unattended
	// (yellow). Default 10 min.
	UnattendedAfter time.Duration
	// BadRatingAtMost: a rating at or below this needs follow-up: red for
	// 1 (非常不满意), yellow otherwise. Default 2.
	BadRatingAtMost int
	// CameraOfflineAfter: a camera offline this long raises red. Default 30 s.
	CameraOfflineAfter time.Duration
	// DefaultTargetWait is the target wait of an item whose
	// target_wait_minutes is 0 (long wait: yellow past the target, red
	// past twice the target). Default 15 min.
	DefaultTargetWait time.Duration
}

// withDefaults fills the zero fields.
func (r Rules) withDefaults() Rules {
	if r.CaseWarnShare <= 0 {
		r.CaseWarnShare = 0.8
	}
	if r.CaseWarnWorkdays <= 0 {
		r.CaseWarnWorkdays = 1
	}
	if r.MaxHandling <= 0 {
		r.MaxHandling = 45 * time.Minute
	}
	if r.UnattendedAfter <= 0 {
		r.UnattendedAfter = 10 * time.Minute
	}
	if r.BadRatingAtMost <= 0 {
		r.BadRatingAtMost = 2
	}
	if r.CameraOfflineAfter <= 0 {
		r.CameraOfflineAfter = 30 * time.Second
	}
	if r.DefaultTargetWait <= 0 {
		r.DefaultTargetWait = 15 * time.Minute
	}
	return r
}
