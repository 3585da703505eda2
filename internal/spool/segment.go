package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A segment file starts with a header naming its own sequence number, so a
// file renamed by hand or copied from another spool is not silently replayed.
const (
	segmentMagic       = "SLSPOOL1"
	segmentHeaderBytes = 16
	segmentSuffix      = ".seg"
)

// segment is one segment file as the spool knows it.
type segment struct {
	seq  uint64
	size int64 // end of the last valid record; the write offset of the active segment
}

func segmentName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, segmentSuffix) }

func segmentPath(dir string, seq uint64) string { return filepath.Join(dir, segmentName(seq)) }

func segmentHeader(seq uint64) []byte {
	h := make([]byte, segmentHeaderBytes)
	copy(h, segmentMagic)
	binary.LittleEndian.PutUint64(h[8:], seq)
	return h
}

// listSegments returns the sequence numbers of the segment files in dir,
// oldest first.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list %s: %w", dir, err)
	}
	var seqs []uint64
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segmentSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segmentSuffix), 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	return seqs, nil
}

// createSegment makes segment seq durable with its header and returns it
// open for writing at the end of the header. It goes through a temporary
// name so a crash never leaves a segment with half a header.
func createSegment(dir string, seq uint64) (*os.File, error) {
	final := segmentPath(dir, seq)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("spool: create segment %d: %w", seq, err)
	}
	fail := func(err error) (*os.File, error) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("spool: create segment %d: %w", seq, err)
	}
	if _, err := f.Write(segmentHeader(seq)); err != nil {
		return fail(err)
	}
	if err := fdatasync(f); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fail(err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("spool: create segment %d: %w", seq, err)
	}
	return f, nil
}

// scanResult is what recovery learns about one segment.
type scanResult struct {
	end      int64 // end of the last valid record
	fileSize int64
	records  int64
	bytes    int64 // framed bytes of the valid records from the scan start
	badHdr   bool  // the file header is missing or names another segment
}

// scanSegment validates segment seq from offset from (a record boundary) to
// the first record that is short or fails its checksum.
func scanSegment(dir string, seq uint64, from int64) (scanResult, error) {
	var r scanResult
	f, err := os.Open(segmentPath(dir, seq))
	if err != nil {
		return r, fmt.Errorf("spool: open segment %d: %w", seq, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return r, fmt.Errorf("spool: stat segment %d: %w", seq, err)
	}
	r.fileSize = info.Size()
	hdr := make([]byte, segmentHeaderBytes)
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr) != string(segmentHeader(seq)) {
		r.badHdr = true
		r.end = segmentHeaderBytes
		return r, nil
	}
	if from < segmentHeaderBytes {
		from = segmentHeaderBytes
	}
	if from > r.fileSize {
		r.end = r.fileSize
		return r, nil
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return r, fmt.Errorf("spool: seek segment %d: %w", seq, err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	r.end = from
	var buf []byte
	for {
		h, err := br.Peek(recordHeaderBytes)
		if err != nil {
			break // short header: end of the valid data
		}
		length := int(binary.LittleEndian.Uint32(h[0:4]))
		if length > MaxRecordBytes {
			break
		}
		n := recordHeaderBytes + length
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				break
			}
			return r, fmt.Errorf("spool: read segment %d: %w", seq, err)
		}
		if _, _, bad := parseRecord(buf); bad {
			break
		}
		r.end += int64(n)
		r.records++
		r.bytes += int64(n)
	}
	return r, nil
}
