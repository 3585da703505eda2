package spool

import (
	"os"
	"syscall"
)

// fdatasync flushes a file's data and the size it needs to be read back,
// skipping the timestamp-only metadata fsync would also write. It goes
// through RawConn so a concurrent Close cannot hand the descriptor number to
// another file in the middle.
func fdatasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			serr = syscall.Fdatasync(int(fd))
			if serr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
