package tracker

import "hash/maphash"

// recentSet remembers the hashes of the last n event ids it was given, to
// drop duplicates in constant memory. Two ids sharing a 64-bit hash are
// not expected in practice among n ids.
type recentSet struct {
	seed maphash.Seed
	ring []uint64
	next int
	full bool
	set  map[uint64]struct{}
}

func newRecentSet(n int) recentSet {
	return recentSet{seed: maphash.MakeSeed(), ring: make([]uint64, n), set: make(map[uint64]struct{}, n)}
}

// add records id and reports whether it was new.
func (r *recentSet) add(id string) bool {
	h := maphash.String(r.seed, id)
	if _, dup := r.set[h]; dup {
		return false
	}
	if r.full {
		delete(r.set, r.ring[r.next])
	}
	r.ring[r.next] = h
	r.set[h] = struct{}{}
	r.next++
	if r.next == len(r.ring) {
		r.next, r.full = 0, true
	}
	return true
}
