package spool

import (
	"context"
	"fmt"
	"io"
)

// syncGroup is the set of Appends that the next fsync covers; done is closed
// when it has run, err says whether it failed.
type syncGroup struct {
	done chan struct{}
	err  error
}

func newSyncGroup() *syncGroup { return &syncGroup{done: make(chan struct{})} }

// Append writes records as one unit and returns once they are fsync'd.
// Either all of them are written or none (ErrFull, ErrTooLarge, a write
// error). Concurrent Appends share one fsync. If ctx ends while the fsync is
// still running, Append returns the context's error although the records
// may yet become durable and be delivered: callers that retry must tolerate
// a duplicate (event ids make that harmless).
func (s *Spool) Append(ctx context.Context, records [][]byte) error {
	if len(records) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	size := 0
	for _, r := range records {
		if len(r) > MaxRecordBytes {
			return fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(r), MaxRecordBytes)
		}
		size += recordHeaderBytes + len(r)
	}
	bp := s.getBuf(size)
	buf := (*bp)[:0]
	for _, r := range records {
		buf = appendRecord(buf, r)
	}
	*bp = buf

	s.mu.Lock()
	g, err := s.writeLocked(buf, int64(len(records)))
	s.mu.Unlock()
	s.putBuf(bp)
	if err != nil {
		return err
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
	select {
	case <-g.done:
		return g.err
	case <-ctx.Done():
		return fmt.Errorf("spool: waiting for fsync: %w", ctx.Err())
	}
}

// writeLocked writes one Append's framed records with one write call and
// returns the sync group that will cover them.
func (s *Spool) writeLocked(buf []byte, records int64) (*syncGroup, error) {
	if s.closed {
		return nil, ErrClosed
	}
	if s.err != nil {
		return nil, s.err
	}
	size := int64(len(buf))
	if s.wpos.lb-s.committed.lb+size > s.cfg.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes pending, %d more would pass the limit of %d",
			ErrFull, s.wpos.lb-s.committed.lb, size, s.cfg.MaxBytes)
	}
	if s.wpos.off > segmentHeaderBytes && s.wpos.off+size > s.cfg.SegmentBytes {
		if err := s.rollLocked(); err != nil {
			return nil, err
		}
	}
	if n, err := s.f.Write(buf); err != nil {
		// Leave the file ending on a record boundary, or refuse further
		// appends: a later record after a half record would be unreachable.
		if n > 0 {
			if terr := s.f.Truncate(s.wpos.off); terr != nil {
				s.err = fmt.Errorf("spool: segment %d left with a partial write: %w", s.wpos.seg, terr)
			} else if _, serr := s.f.Seek(s.wpos.off, io.SeekStart); serr != nil {
				s.err = fmt.Errorf("spool: segment %d: seek after a partial write: %w", s.wpos.seg, serr)
			}
		}
		return nil, fmt.Errorf("spool: write segment %d: %w", s.wpos.seg, err)
	}
	s.wpos.off += size
	s.wpos.rec += records
	s.wpos.lb += size
	s.segs[len(s.segs)-1].size = s.wpos.off
	s.stats.Appended += records
	s.stats.Appends++
	return s.group, nil
}

// rollLocked seals the active segment (fsync'd, so everything written so far
// is durable) and starts the next one.
func (s *Spool) rollLocked() error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	old := s.f
	if err := fdatasync(old); err != nil {
		s.err = fmt.Errorf("spool: fsync segment %d before rolling: %w", s.wpos.seg, err)
		return s.err
	}
	next := s.wpos.seg + 1
	f, err := createSegment(s.dir, next)
	if err != nil {
		return err // the old segment stays active; nothing was lost
	}
	old.Close()
	s.f = f
	s.syncFile = f
	s.segs = append(s.segs, segment{seq: next, size: segmentHeaderBytes})
	s.advanceSyncedLocked(s.wpos)
	s.wpos.seg, s.wpos.off = next, segmentHeaderBytes
	return nil
}

func (s *Spool) advanceSyncedLocked(p pos) {
	if p.lb <= s.synced.lb && p.seg == s.synced.seg {
		return
	}
	s.synced = p
	close(s.syncedCh)
	s.syncedCh = make(chan struct{})
}

// syncLoop is the group-commit goroutine: every fdatasync covers all the
// writes made before it started, so concurrent Appends share it.
func (s *Spool) syncLoop() {
	defer close(s.syncerDone)
	for {
		select {
		case <-s.kick:
			s.syncOnce()
		case <-s.quit:
			s.syncOnce() // Appends that wrote before Close still wait
			return
		}
	}
}

func (s *Spool) syncOnce() {
	s.mu.Lock()
	g := s.group
	s.group = newSyncGroup()
	target := s.wpos
	f := s.f
	needed := target.lb > s.synced.lb
	s.mu.Unlock()

	var err error
	if needed {
		s.syncMu.Lock()
		// A roll since the snapshot fsync'd and closed f itself.
		if f == s.syncFile {
			err = fdatasync(f)
		}
		s.syncMu.Unlock()
	}

	s.mu.Lock()
	if err != nil && s.err == nil {
		s.err = fmt.Errorf("spool: fsync segment %d: %w", target.seg, err)
	}
	if s.err != nil {
		g.err = s.err
	} else if needed {
		s.stats.Fsyncs++
		if target.lb > s.synced.lb {
			s.advanceSyncedLocked(target)
		}
	}
	s.mu.Unlock()
	close(g.done)
}

func (s *Spool) getBuf(size int) *[]byte {
	if bp, ok := s.bufs.Get().(*[]byte); ok && cap(*bp) >= size {
		return bp
	}
	b := make([]byte, 0, size)
	return &b
}

func (s *Spool) putBuf(bp *[]byte) {
	if cap(*bp) <= 1<<20 {
		s.bufs.Put(bp)
	}
}
