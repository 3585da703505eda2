package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

const (
	// Next's limits when the caller passes zero or less.
	defaultBatchRecords = 10000
	defaultBatchBytes   = 4 << 20
	// readChunkBytes bounds one read of Next, so a batch that stops on its
	// record count does not drag in megabytes it will not use.
	readChunkBytes = 1 << 20
)

// Batch is a run of consecutive records returned by Next. Records alias a
// buffer owned by the batch and stay valid after Commit.
type Batch struct {
	Records [][]byte
	owner   *Spool
	end     pos
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
