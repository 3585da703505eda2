package spool

import "errors"

var (
	// ErrFull is returned by Append when its records would push the pending
	// (undelivered) bytes past Config.MaxBytes; nothing of that call is
	// written. Commit frees budget.
	ErrFull = errors.New("spool: full")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("spool: closed")
	// ErrTooLarge is returned by Append for a record above MaxRecordBytes.
	ErrTooLarge = errors.New("spool: record too large")
	// ErrCorrupt is returned by Next when an acknowledged record fails its
	// checksum on read: the disk changed it after it was fsync'd.
	ErrCorrupt = errors.New("spool: corrupt record")
)
