//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package spool

import (
	"fmt"
	"os"
)

// lockDir fails: the spool relies on flock to keep two processes off one
// directory, and this platform has none.
func lockDir(path string) (*os.File, error) {
	return nil, fmt.Errorf("spool: locking %s: file locks are not supported on this platform", path)
}
