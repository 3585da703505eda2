// Package spool owns the local, append-only, fsync'd spool of accepted
// events: the event intake acknowledges a batch only once Append has made it
// durable here, and one consumer drains it into ClickHouse with Next and
// Commit. A kill -9 after Append returns loses nothing; a torn last write
// (never acknowledged) is detected by its checksum and dropped on Open.
//
// On disk a spool is a directory of segment files named by an increasing
// sequence number, each a header followed by records (length, CRC32C,
// payload), plus a cursor file naming the first undelivered byte.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// Config configures a Spool. The zero value of every field but Dir works.
type Config struct {
	// Dir holds the segments and the cursor; created (0700) if missing.
	Dir string
	// MaxBytes bounds the pending (appended, not committed) framed record
	// bytes on disk. Default 1 GiB.
	MaxBytes int64
	// SegmentBytes is the size after which appends go to a new segment
	// file. Default 64 MiB. One Append never spans two segments.
	SegmentBytes int64
	// Logger receives recovery and deletion problems. Default: discard.
	Logger *slog.Logger
}

const (
	defaultMaxBytes     = 1 << 30
	defaultSegmentBytes = 64 << 20
	// Next's limits when the caller passes zero or less.
	defaultBatchRecords = 10000
	defaultBatchBytes   = 4 << 20
	// readChunkBytes bounds one read of Next, so a batch that stops on its
	// record count does not drag in megabytes it will not use.
	readChunkBytes = 1 << 20
)

// pos is a point in the record stream: a segment offset plus the number of
// records and framed bytes before it, counted from the committed cursor found
// by Open (so differences of two positions give pending counts).
type pos struct {
	seg uint64
	off int64
	rec int64
	lb  int64
}

// syncGroup is the set of Appends that the next fsync covers; done is closed
// when it has run, err says whether it failed.
type syncGroup struct {
	done chan struct{}
	err  error
}

func newSyncGroup() *syncGroup { return &syncGroup{done: make(chan struct{})} }

// Batch is a run of consecutive records returned by Next. Records alias a
// buffer owned by the batch and stay valid after Commit.
type Batch struct {
	Records [][]byte
	owner   *Spool
	end     pos
}

// Stats is a snapshot of the spool's counters.
type Stats struct {
	PendingBytes   int64 // framed bytes appended and not yet committed
	PendingRecords int64 // records appended and not yet committed
	Segments       int   // segment files on disk
	Recovered      int64 // records found pending by Open
	DroppedBytes   int64 // torn or corrupt bytes Open cut off
	Appended       int64 // records appended since Open
	Committed      int64 // records committed since Open
	Appends        int64 // Append calls that wrote since Open
	Fsyncs         int64 // group fsyncs since Open (segment rolls not counted)
}

// Spool is a durable FIFO of opaque records. Append may be called from any
// number of goroutines; Next, Commit and Rewind are meant for one consumer
// but are safe to call concurrently.
type Spool struct {
	dir  string
	cfg  Config
	log  *slog.Logger
	lock *os.File

	kick       chan struct{} // an Append wrote: the syncer should run (cap 1)
	quit       chan struct{} // closed by Close: the syncer runs once more and exits
	syncerDone chan struct{}
	closedCh   chan struct{} // closed by Close: wakes Next

	// syncMu is held by the syncer across an fdatasync and by a segment
	// roll while it retires the active file, so a file is never closed under
	// an fsync and the syncer knows when the roll already made it durable.
	syncMu   sync.Mutex
	syncFile *os.File // guarded by syncMu: the file the syncer may fsync

	mu        sync.Mutex
	closed    bool          // guarded by mu
	err       error         // guarded by mu: sticky write or fsync failure; Append refuses from then on
	f         *os.File      // guarded by mu: the active segment, positioned at wpos.off
	segs      []segment     // guarded by mu: on-disk segments, oldest first, last is active
	wpos      pos           // guarded by mu: end of the last write
	synced    pos           // guarded by mu: end of the durable data; Next reads up to here
	syncedCh  chan struct{} // guarded by mu: closed and replaced when synced advances
	committed pos           // guarded by mu
	group     *syncGroup    // guarded by mu: the Appends the next fsync covers
	stats     Stats         // guarded by mu: counters only

	// cmu serialises Commit's cursor writes.
	cmu sync.Mutex

	// rmu guards the read position and the reader's open file.
	rmu   sync.Mutex
	rpos  pos
	rf    *os.File
	rfSeq uint64

	bufs sync.Pool // *[]byte encode buffers for Append
}

// Open opens or creates the spool in cfg.Dir: it deletes segments before the
// committed cursor, validates every record after it, cuts a torn or corrupt
// tail off the last segment, and starts the fsync goroutine.
func Open(cfg Config) (*Spool, error) {
	if cfg.Dir == "" {
		return nil, errors.New("spool: Config.Dir is empty")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultMaxBytes
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = defaultSegmentBytes
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "spool", "dir", cfg.Dir)
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", cfg.Dir, err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir:        cfg.Dir,
		cfg:        cfg,
		log:        log,
		lock:       lock,
		kick:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		syncerDone: make(chan struct{}),
		closedCh:   make(chan struct{}),
		syncedCh:   make(chan struct{}),
		group:      newSyncGroup(),
	}
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	go s.syncLoop()
	return s, nil
}

// recover rebuilds the in-memory state from the directory.
func (s *Spool) recover() error {
	dir := s.dir
	// Leftovers of an interrupted segment creation or cursor write.
	if tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(tmps) > 0 {
		for _, t := range tmps {
			os.Remove(t)
		}
	}
	seqs, err := listSegments(dir)
	if err != nil {
		return err
	}
	cseq, coff, found, err := readCursor(dir)
	if err != nil {
		// The cursor is replaced atomically, so this is damage from outside;
		// delivering again from the oldest segment loses nothing (event ids
		// make redelivery harmless downstream).
		s.log.Error("cursor unreadable, redelivering from the oldest segment", "err", err)
		found = false
	}
	if !found {
		cseq, coff = 0, segmentHeaderBytes
		if len(seqs) > 0 {
			cseq = seqs[0]
		}
	}
	// Segments wholly before the cursor were delivered; a crash may have
	// kept them from being deleted.
	for len(seqs) > 0 && seqs[0] < cseq {
		if err := os.Remove(segmentPath(dir, seqs[0])); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("spool: delete delivered segment %d: %w", seqs[0], err)
		}
		seqs = seqs[1:]
	}
	if len(seqs) > 0 && seqs[0] != cseq {
		s.log.Error("cursor segment missing, starting at the next one", "cursor_segment", cseq, "next", seqs[0])
		cseq, coff = seqs[0], segmentHeaderBytes
	}
	if coff < segmentHeaderBytes {
		coff = segmentHeaderBytes
	}
	var total scanResult
	for i, seq := range seqs {
		from := int64(segmentHeaderBytes)
		if seq == cseq {
			from = coff
		}
		r, err := scanSegment(dir, seq, from)
		if err != nil {
			return err
		}
		last := i == len(seqs)-1
		if seq == cseq && coff > r.end {
			s.log.Error("cursor beyond the end of its segment", "segment", seq, "offset", coff, "end", r.end)
			coff = r.end
		}
		if r.badHdr {
			s.log.Error("segment header damaged, its records are skipped", "segment", seq)
			if last {
				if err := s.rewriteHeader(seq); err != nil {
					return err
				}
				r.fileSize = segmentHeaderBytes
			}
		}
		if dropped := r.fileSize - r.end; dropped > 0 {
			s.stats.DroppedBytes += dropped
			if last {
				// The only write that can be torn is the last one, and it was
				// never acknowledged.
				s.log.Warn("dropping torn tail of the last segment", "segment", seq, "offset", r.end, "bytes", dropped)
				if err := truncateSegment(dir, seq, r.end); err != nil {
					return err
				}
			} else {
				s.log.Error("segment corrupt in the middle, the rest of it is skipped", "segment", seq, "offset", r.end, "bytes", dropped)
			}
		}
		s.segs = append(s.segs, segment{seq: seq, size: r.end})
		total.records += r.records
		total.bytes += r.bytes
	}
	if len(s.segs) == 0 {
		seq := max(cseq, 1)
		f, err := createSegment(dir, seq)
		if err != nil {
			return err
		}
		f.Close()
		s.segs = []segment{{seq: seq, size: segmentHeaderBytes}}
		cseq, coff = seq, segmentHeaderBytes
	}
	active := s.segs[len(s.segs)-1]
	f, err := os.OpenFile(segmentPath(dir, active.seq), os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: open segment %d: %w", active.seq, err)
	}
	if _, err := f.Seek(active.size, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("spool: seek segment %d: %w", active.seq, err)
	}
	s.f = f
	s.syncFile = f
	s.committed = pos{seg: cseq, off: coff}
	s.wpos = pos{seg: active.seq, off: active.size, rec: total.records, lb: total.bytes}
	s.synced = s.wpos
	s.rpos = s.committed
	s.stats.Recovered = total.records
	if total.records > 0 {
		s.log.Info("spool recovered", "records", total.records, "bytes", total.bytes, "segments", len(s.segs))
	}
	return nil
}

func (s *Spool) rewriteHeader(seq uint64) error {
	f, err := os.OpenFile(segmentPath(s.dir, seq), os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: rewrite header of segment %d: %w", seq, err)
	}
	_, err = f.Write(segmentHeader(seq))
	if err == nil {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: rewrite header of segment %d: %w", seq, err)
	}
	return nil
}

func truncateSegment(dir string, seq uint64, size int64) error {
	f, err := os.OpenFile(segmentPath(dir, seq), os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: truncate segment %d: %w", seq, err)
	}
	err = f.Truncate(size)
	if err == nil {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("spool: truncate segment %d: %w", seq, err)
	}
	return nil
}

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

// Next returns the records after the read position, up to maxRecords and
// maxBytes of payload (at least one record, however large), waiting until
// there is one or ctx ends. It moves the read position past them but not the
// committed cursor. Zero or negative limits mean 10,000 records and 4 MiB.
// Only durable (acknowledged) records are returned.
func (s *Spool) Next(ctx context.Context, maxRecords int, maxBytes int) (Batch, error) {
	if maxRecords <= 0 {
		maxRecords = defaultBatchRecords
	}
	if maxBytes <= 0 {
		maxBytes = defaultBatchBytes
	}
	for {
		s.rmu.Lock()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			s.rmu.Unlock()
			return Batch{}, ErrClosed
		}
		if s.rpos.lb < s.committed.lb {
			s.rpos = s.committed // a batch read before a Rewind was committed after it
		}
		limit := s.synced
		wait := s.syncedCh
		var segs []segment
		if limit.lb > s.rpos.lb {
			segs = append(segs, s.segs...)
		}
		s.mu.Unlock()
		if segs != nil {
			b, err := s.readLocked(limit, segs, maxRecords, maxBytes)
			s.rmu.Unlock()
			return b, err
		}
		s.rmu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		case <-s.closedCh:
			return Batch{}, ErrClosed
		}
	}
}

// readLocked reads from rpos towards limit; segs is a snapshot of the
// segment list (sealed segments' sizes are final). rmu is held.
func (s *Spool) readLocked(limit pos, segs []segment, maxRecords, maxBytes int) (Batch, error) {
	p := s.rpos
	var recs [][]byte
	payload := 0
	for len(recs) < maxRecords && payload < maxBytes && p.lb < limit.lb {
		end := limit.off
		if p.seg != limit.seg {
			end = sizeOf(segs, p.seg)
		}
		if p.off >= end {
			next, ok := nextSeq(segs, p.seg)
			if !ok {
				return Batch{}, fmt.Errorf("spool: segment after %d missing while %d bytes are pending", p.seg, limit.lb-p.lb)
			}
			p.seg, p.off = next, segmentHeaderBytes
			continue
		}
		f, err := s.readerFile(p.seg)
		if err != nil {
			return Batch{}, err
		}
		want := min(end-p.off, int64(maxBytes-payload)+int64(recordHeaderBytes*(maxRecords-len(recs))), readChunkBytes)
		chunk := make([]byte, want)
		if _, err := f.ReadAt(chunk, p.off); err != nil {
			return Batch{}, fmt.Errorf("spool: read segment %d at %d: %w", p.seg, p.off, err)
		}
		toEnd := want == end-p.off
		full := false
		off := 0
		for off < len(chunk) && len(recs) < maxRecords {
			rec, n, bad := parseRecord(chunk[off:])
			if bad || (n == 0 && toEnd) {
				return Batch{}, fmt.Errorf("%w: segment %d offset %d", ErrCorrupt, p.seg, p.off)
			}
			if n == 0 {
				break // the record runs past the chunk: the next one starts with it
			}
			if len(recs) > 0 && payload+len(rec) > maxBytes {
				full = true
				break
			}
			recs = append(recs, rec)
			payload += len(rec)
			p.off += int64(n)
			p.rec++
			p.lb += int64(n)
			off += n
		}
		if full {
			break
		}
		if off == 0 && len(recs) < maxRecords {
			// The next record alone is larger than the chunk: it goes into
			// this batch if the budget allows, or if the batch is empty (a
			// batch holds at least one record, however large).
			rec, n, err := readOne(f, p.off, end)
			if err != nil {
				return Batch{}, fmt.Errorf("%w: segment %d offset %d: %v", ErrCorrupt, p.seg, p.off, err)
			}
			if len(recs) > 0 && payload+len(rec) > maxBytes {
				break
			}
			recs = append(recs, rec)
			payload += len(rec)
			p.off += int64(n)
			p.rec++
			p.lb += int64(n)
		}
	}
	// Step past the end of a sealed segment so committing this batch lets
	// that segment be deleted.
	if p.seg != limit.seg && p.off >= sizeOf(segs, p.seg) {
		if next, ok := nextSeq(segs, p.seg); ok {
			p.seg, p.off = next, segmentHeaderBytes
		}
	}
	s.rpos = p
	return Batch{Records: recs, owner: s, end: p}, nil
}

// readOne reads the single record at off of a segment whose data ends at end.
func readOne(f *os.File, off, end int64) ([]byte, int, error) {
	hdr := make([]byte, recordHeaderBytes)
	if _, err := f.ReadAt(hdr, off); err != nil {
		return nil, 0, err
	}
	length := int64(binary.LittleEndian.Uint32(hdr))
	if length > MaxRecordBytes || off+recordHeaderBytes+length > end {
		return nil, 0, errors.New("length field out of range")
	}
	buf := make([]byte, recordHeaderBytes+length)
	if _, err := f.ReadAt(buf, off); err != nil {
		return nil, 0, err
	}
	rec, n, bad := parseRecord(buf)
	if bad || n == 0 {
		return nil, 0, errors.New("checksum mismatch")
	}
	return rec, n, nil
}

func sizeOf(segs []segment, seq uint64) int64 {
	for _, sg := range segs {
		if sg.seq == seq {
			return sg.size
		}
	}
	return 0
}

func nextSeq(segs []segment, seq uint64) (uint64, bool) {
	for _, sg := range segs {
		if sg.seq > seq {
			return sg.seq, true
		}
	}
	return 0, false
}

// readerFile returns the reader's handle on segment seq. A handle on a
// segment deleted since stays readable (the data lives until it is closed).
func (s *Spool) readerFile(seq uint64) (*os.File, error) {
	if s.rf != nil && s.rfSeq == seq {
		return s.rf, nil
	}
	f, err := os.Open(segmentPath(s.dir, seq))
	if err != nil {
		return nil, fmt.Errorf("spool: open segment %d for reading: %w", seq, err)
	}
	if s.rf != nil {
		s.rf.Close()
	}
	s.rf, s.rfSeq = f, seq
	return f, nil
}

// Rewind moves the read position back to the committed cursor, so the next
// Next returns again what was read but not committed (after a failed
// delivery).
func (s *Spool) Rewind() {
	s.rmu.Lock()
	s.mu.Lock()
	s.rpos = s.committed
	s.mu.Unlock()
	s.rmu.Unlock()
}

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

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.PendingBytes = s.wpos.lb - s.committed.lb
	st.PendingRecords = s.wpos.rec - s.committed.rec
	st.Segments = len(s.segs)
	return st
}

// Close waits for the Appends in flight to be fsync'd, then releases the
// files. Blocked Next calls return ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	close(s.closedCh)
	s.mu.Unlock()

	close(s.quit)
	<-s.syncerDone

	s.mu.Lock()
	err := s.f.Close()
	s.mu.Unlock()
	s.rmu.Lock()
	if s.rf != nil {
		s.rf.Close()
		s.rf = nil
	}
	s.rmu.Unlock()
	s.cmu.Lock() // a Commit in flight finishes its cursor write first
	s.cmu.Unlock()
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("spool: close: %w", err)
	}
	return nil
}
