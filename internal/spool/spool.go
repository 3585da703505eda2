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
	"errors"
	"fmt"
	"log/slog"
	"os"
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
