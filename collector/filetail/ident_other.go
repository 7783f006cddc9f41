//go:build !unix

package filetail

import (
	"errors"
	"io/fs"
	"os"
)

var errUnsupported = errors.New("file tailing needs a Unix system (files are identified by device and inode)")

func statIdentity(fs.FileInfo) (fileID, uint64, error) { return fileID{}, 0, errUnsupported }

func openFile(string) (*os.File, error) { return nil, errUnsupported }

func lockFile(*os.File) error { return errUnsupported }

func unlockFile(*os.File) error { return nil }
