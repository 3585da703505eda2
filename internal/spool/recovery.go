package spool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

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
