package spool

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// The cursor file names the first undelivered byte: (segment, offset). It is
// replaced atomically (write a temporary file, fsync, rename, fsync the
// directory), so a crash leaves either the old or the new cursor.
const (
	cursorName  = "cursor"
	cursorMagic = "SLCURS01"
	cursorBytes = 8 + 8 + 8 + 4
)

func encodeCursor(seq uint64, off int64) []byte {
	b := make([]byte, cursorBytes)
	copy(b, cursorMagic)
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(off))
	binary.LittleEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	return b
}

// readCursor returns the committed cursor; found is false when there is
// none yet, and an error when the file exists but does not check out.
func readCursor(dir string) (seq uint64, off int64, found bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, cursorName))
	if os.IsNotExist(err) {
		return 0, 0, false, nil
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("spool: read cursor: %w", err)
	}
	if len(b) != cursorBytes || string(b[:8]) != cursorMagic ||
		crc32.Checksum(b[:24], castagnoli) != binary.LittleEndian.Uint32(b[24:]) {
		return 0, 0, false, fmt.Errorf("spool: cursor file %s is corrupt", filepath.Join(dir, cursorName))
	}
	return binary.LittleEndian.Uint64(b[8:]), int64(binary.LittleEndian.Uint64(b[16:])), true, nil
}

func writeCursor(dir string, seq uint64, off int64) error {
	final := filepath.Join(dir, cursorName)
	tmp := final + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("spool: write cursor: %w", err)
	}
	_, err = f.Write(encodeCursor(seq, off))
	if err == nil {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("spool: write cursor: %w", err)
	}
	return nil
}

// syncDir makes renames and new names in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
