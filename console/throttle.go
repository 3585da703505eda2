package console

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// throttlePolicy says how failed sign-ins of one key (a user name, or a
// client address) slow it down. A key's first Free failures cost nothing;
// each further one makes the key wait Base, then twice as long, up to
// MaxDelay; at LockAfter failures the key is locked out for LockFor. An
// attempt refused while the key waits counts as a failure too, so a client
// that ignores Retry-After reaches the lockout soon, without one argon2
// hash spent on it. A key with no failure for Forget starts afresh.
type throttlePolicy struct {
	Free      int
	Base      time.Duration
	MaxDelay  time.Duration
	LockAfter int
	LockFor   time.Duration
	Forget    time.Duration
}

// The default policies. A user name locks sooner than an address: the
// windows of a hall often sign in from behind one NAT address, so an
// address may fail more often before it waits.
var (
	userThrottle   = throttlePolicy{Free: 3, Base: time.Second, MaxDelay: 30 * time.Second, LockAfter: 10, LockFor: 15 * time.Minute, Forget: 15 * time.Minute}
	clientThrottle = throttlePolicy{Free: 30, Base: time.Second, MaxDelay: 30 * time.Second, LockAfter: 100, LockFor: 15 * time.Minute, Forget: 15 * time.Minute}
)

// maxThrottleKeys bounds the keys a throttle tracks (a spray of made-up
// user names must not grow it without end): past it, idle keys are
// dropped, and if none is idle a new key is not tracked.
const maxThrottleKeys = 100_000

// throttle tracks the failed sign-ins of keys under one policy.
type throttle struct {
	policy throttlePolicy

	mu   sync.Mutex
	keys map[string]*attempts // guarded by mu
}

// attempts is one key's record; guarded by its throttle's mu.
type attempts struct {
	failures int
	inflight int       // admitted attempts whose password is being checked
	until    time.Time // no attempt is admitted before this
	last     time.Time // the last failure
	locked   bool      // until is a lockout (audited once)
}

func newThrottle(p throttlePolicy) *throttle {
	return &throttle{policy: p, keys: map[string]*attempts{}}
}

// verdict is what begin decides about one attempt.
type verdict struct {
	ok         bool          // admitted: check the password, then call end
	retryAfter time.Duration // when refused: how long to wait
	lockedNow  bool          // this attempt locked the key out (audit it)
	failures   int           // the key's failures so far
}

func (t *throttle) get(key string, now time.Time) *attempts {
	a := t.keys[key]
	if a != nil && a.inflight == 0 && now.Sub(a.last) > t.policy.Forget && !now.Before(a.until) {
		a.failures, a.locked = 0, false
	}
	if a == nil {
		if len(t.keys) >= maxThrottleKeys {
			for k, old := range t.keys {
				if old.inflight == 0 && !now.Before(old.until) && now.Sub(old.last) > t.policy.Forget {
					delete(t.keys, k)
				}
			}
			if len(t.keys) >= maxThrottleKeys {
				return nil
			}
		}
		a = &attempts{}
		t.keys[key] = a
	}
	return a
}

// begin admits or refuses an attempt of key at now.
func (t *throttle) begin(key string, now time.Time) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.get(key, now)
	if a == nil {
		return verdict{ok: true}
	}
	waiting := now.Before(a.until)
	// Past the free failures, one attempt at a time: a burst of parallel
	// guesses must not all get through before the first one fails.
	busy := a.inflight > 0 && a.failures+a.inflight >= t.policy.Free
	if !waiting && !busy {
		a.inflight++
		return verdict{ok: true, failures: a.failures}
	}
	// A refused attempt counts; while the key waits it does not prolong
	// the wait (only the lockout does), a parallel one starts a wait.
	lockedNow := t.fail(a, now, waiting)
	return verdict{retryAfter: max(a.until.Sub(now), time.Second), lockedNow: lockedNow, failures: a.failures}
}

// fail counts one failure of a and sets how long it waits; it tells
// whether this failure locked the key out. keepUntil leaves a's waiting
// time as it is, unless the failure locks it.
func (t *throttle) fail(a *attempts, now time.Time, keepUntil bool) bool {
	a.failures++
	a.last = now
	if a.failures >= t.policy.LockAfter {
		if a.locked {
			return false
		}
		a.locked = true
		a.until = now.Add(t.policy.LockFor)
		return true
	}
	if a.failures > t.policy.Free && !keepUntil {
		delay := t.policy.Base << min(a.failures-t.policy.Free-1, 20)
		a.until = now.Add(min(delay, t.policy.MaxDelay))
	}
	return false
}

// end closes an admitted attempt: a success forgets the key's failures
// when forgive is set (a user who signed in), a failure counts. It tells
// whether the failure locked the key out.
func (t *throttle) end(key string, now time.Time, success, forgive bool) (lockedNow bool, failures int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a := t.keys[key]
	if a == nil {
		return false, 0
	}
	a.inflight = max(a.inflight-1, 0)
	if success {
		if forgive && a.inflight == 0 {
			delete(t.keys, key)
		}
		return false, 0
	}
	return t.fail(a, now, false), a.failures
}

// cancel undoes an admission that was never checked (another key refused).
func (t *throttle) cancel(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.keys[key]; a != nil {
		a.inflight = max(a.inflight-1, 0)
	}
}

// hashGate bounds the argon2id checks that run at once (each takes 64 MiB
// and a core for tens of milliseconds) and the sign-ins that may wait for
// one: past maxWaiting, or after waiting maxWait, a sign-in is refused at
// once, so that a flood costs the server neither its memory nor its cores.
type hashGate struct {
	slots      chan struct{}
	maxWaiting int64
	maxWait    time.Duration
	waiting    atomic.Int64
}

func newHashGate(slots, maxWaiting int, maxWait time.Duration) *hashGate {
	return &hashGate{slots: make(chan struct{}, slots), maxWaiting: int64(maxWaiting), maxWait: maxWait}
}

// acquire takes a slot; false means busy (or ctx ended): refuse the sign-in.
func (g *hashGate) acquire(ctx context.Context) bool {
	select {
	case g.slots <- struct{}{}:
		return true
	default:
	}
	if g.waiting.Add(1) > g.maxWaiting {
		g.waiting.Add(-1)
		return false
	}
	defer g.waiting.Add(-1)
	timer := time.NewTimer(g.maxWait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	case <-ctx.Done():
		return false
	}
}

func (g *hashGate) release() { <-g.slots }
