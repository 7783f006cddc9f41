//go:build unix

package filetail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// statIdentity returns the identity of the file fi describes and its link
// count (0 once the file has been deleted while still open).
func statIdentity(fi fs.FileInfo) (fileID, uint64, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, 0, fmt.Errorf("no device and inode for %s", fi.Name())
	}
	return fileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, uint64(st.Nlink), nil // field types differ between systems
}

// openFile opens path for reading without blocking, so that a FIFO put in
// place of a log file cannot hang the tailer (regular files ignore
// O_NONBLOCK).
func openFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// lockFile takes an exclusive, non-blocking advisory lock on f, so that two
// tailers never share one positions file.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}

func unlockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
