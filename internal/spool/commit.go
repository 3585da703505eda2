package spool

import (
	"errors"
	"os"
)

// Commit durably records that every record up to the end of b is delivered,
// deletes the segments that holds nothing undelivered any more and frees
// their MaxBytes budget. Committing a batch at or before the cursor is a
// no-op, so a batch read before a Rewind may still be committed.
func (s *Spool) Commit(b Batch) error {
	if b.owner == nil {
		return nil
	}
	if b.owner != s {
		return errors.New("spool: Commit of a batch from another spool")
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if b.end.lb <= s.committed.lb {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()

	if err := writeCursor(s.dir, b.end.seg, b.end.off); err != nil {
		return err
	}

	s.mu.Lock()
	s.stats.Committed += b.end.rec - s.committed.rec
	s.committed = b.end
	var doomed []uint64
	for len(s.segs) > 1 && s.segs[0].seq < b.end.seg {
		doomed = append(doomed, s.segs[0].seq)
		s.segs = s.segs[1:]
	}
	s.mu.Unlock()
	for _, seq := range doomed {
		// Open deletes a segment that survives here, so this is not fatal.
		if err := os.Remove(segmentPath(s.dir, seq)); err != nil {
			s.log.Warn("could not delete a delivered segment", "segment", seq, "err", err)
		}
	}
	return nil
}
