package filetail

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// positionsVersion is the format version written to, and required in, the
// positions file.
const positionsVersion = 1

// maxPositionsBytes bounds the positions file read at start: it holds one
// short entry per followed file, so anything larger is not one.
const maxPositionsBytes = 16 << 20

// fingerprintBytes is how much of the start of a file its fingerprint covers.
const fingerprintBytes = 256

// ErrCorruptPositions means the positions file exists but cannot be used
// (not JSON, truncated, an unknown version or an impossible entry). The
// tailer refuses to guess: an operator repairs the file, or removes it to
// read every matched file again as start_at says (which repeats lines that
// were already delivered).
var ErrCorruptPositions = errors.New("corrupt positions file")

// errLocked is returned when another tailer holds the positions file.
var errLocked = errors.New("in use by another tailer (lock held)")

// Position is how far one file has been read and acknowledged. It is one
// entry of the positions file.
type Position struct {
	// Path is where the file was last found. It is informational and used to
	// look for the file again after a restart; the file is identified by
	// Dev, Inode and Fingerprint.
	Path string `json:"path"`
	// Dev and Inode identify the file on its filesystem.
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	// Fingerprint is the hex SHA-256 of the first FingerprintBytes bytes of
	// the file; it tells a reused inode from the file that had it.
	Fingerprint      string `json:"fingerprint"`
	FingerprintBytes int    `json:"fingerprint_bytes"`
	// Offset is the byte offset just after the last acknowledged line: the
	// next line to deliver starts there.
	Offset int64 `json:"offset"`
}

type positionsDoc struct {
	Version int        `json:"version"`
	Files   []Position `json:"files"`
}

// fileID is a file's identity on one machine.
type fileID struct{ Dev, Ino uint64 }

func (p Position) id() fileID { return fileID{Dev: p.Dev, Ino: p.Inode} }

// fingerprint is the hash of the first n bytes of a file.
type fingerprint struct {
	n   int
	sum [sha256.Size]byte
}

func (f fingerprint) String() string { return hex.EncodeToString(f.sum[:]) }

func newFingerprint(prefix []byte) fingerprint {
	return fingerprint{n: len(prefix), sum: sha256.Sum256(prefix)}
}

// readFingerprint hashes the first n bytes of f; ok is false when f is
// shorter than n.
func readFingerprint(f io.ReaderAt, n int) (fp fingerprint, ok bool, err error) {
	buf := make([]byte, n)
	got, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fingerprint{}, false, err
	}
	if got < n {
		return fingerprint{}, false, nil
	}
	return newFingerprint(buf), true, nil
}

func (p Position) fingerprint() fingerprint {
	fp := fingerprint{n: p.FingerprintBytes}
	_, _ = hex.Decode(fp.sum[:], []byte(p.Fingerprint)) // checked by decodePositions
	return fp
}

// decodePositions parses and checks a positions file. Every error wraps
// ErrCorruptPositions.
func decodePositions(data []byte) ([]Position, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptPositions, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, bad("empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc positionsDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, bad("truncated JSON")
		}
		return nil, bad("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad("data after the JSON object")
	}
	if doc.Version != positionsVersion {
		return nil, bad("version %d, want %d", doc.Version, positionsVersion)
	}
	seen := make(map[fileID]bool, len(doc.Files))
	for i, p := range doc.Files {
		switch {
		case p.Path == "":
			return nil, bad("files[%d]: empty path", i)
		case p.Offset < 0:
			return nil, bad("files[%d]: negative offset %d", i, p.Offset)
		case p.FingerprintBytes < 0 || p.FingerprintBytes > fingerprintBytes:
			return nil, bad("files[%d]: fingerprint_bytes %d is not in 0..%d", i, p.FingerprintBytes, fingerprintBytes)
		case len(p.Fingerprint) != 2*sha256.Size || !isLowerHex(p.Fingerprint):
			return nil, bad("files[%d]: fingerprint is not %d lowercase hex digits", i, 2*sha256.Size)
		case seen[p.id()]:
			return nil, bad("files[%d]: device %d inode %d listed twice", i, p.Dev, p.Inode)
		}
		seen[p.id()] = true
	}
	return doc.Files, nil
}

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// encodePositions renders positions sorted by path, then identity, so the
// file is stable and diffable.
func encodePositions(ps []Position) []byte {
	ps = slices.Clone(ps)
	sortPositions(ps)
	if ps == nil {
		ps = []Position{}
	}
	data, err := json.MarshalIndent(positionsDoc{Version: positionsVersion, Files: ps}, "", "  ")
	if err != nil { // cannot happen: only strings and numbers
		panic(err)
	}
	return append(data, '\n')
}

func sortPositions(ps []Position) {
	slices.SortFunc(ps, func(a, b Position) int {
		if c := strings.Compare(a.Path, b.Path); c != 0 {
			return c
		}
		if a.Dev != b.Dev {
			return cmpU64(a.Dev, b.Dev)
		}
		return cmpU64(a.Inode, b.Inode)
	})
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// loadPositions reads the positions file. A missing file is not an error:
// exists is false and there are no positions.
func loadPositions(path string) (ps []Position, exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("filetail: positions file %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPositionsBytes+1))
	if err != nil {
		return nil, true, fmt.Errorf("filetail: positions file %s: %w", path, err)
	}
	if len(data) > maxPositionsBytes {
		return nil, true, fmt.Errorf("filetail: positions file %s: %w: larger than %d bytes", path, ErrCorruptPositions, maxPositionsBytes)
	}
	ps, err = decodePositions(data)
	if err != nil {
		return nil, true, fmt.Errorf("filetail: positions file %s: %w (repair it, or remove it to read every file again as start_at says)", path, err)
	}
	return ps, true, nil
}

// savePositions replaces the positions file atomically: it writes a
// temporary file in the same directory, syncs it, renames it over the old
// one and syncs the directory, so a crash leaves either the old or the new
// file, never a mix.
func savePositions(path string, ps []Position) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("filetail: write positions file %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(encodePositions(ps)); err != nil {
		return fmt.Errorf("filetail: write positions file %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("filetail: sync positions file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("filetail: write positions file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("filetail: replace positions file %s: %w", path, err)
	}
	ok = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("filetail: sync directory of positions file %s: %w", path, err)
	}
	return nil
}

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
