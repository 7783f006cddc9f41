package pseudo

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Environment variables LoadKey reads. The config loader maps
// VIGIL_PSEUDONYMISE_KEY_FILE onto pseudonymise.key_file as well;
// VIGIL_PSEUDONYMISE_KEY has no YAML key on purpose (a key does not belong
// in a config file) and must be reserved by the caller's loader.
const (
	EnvKey     = "VIGIL_PSEUDONYMISE_KEY"
	EnvKeyFile = "VIGIL_PSEUDONYMISE_KEY_FILE"
)

// maxKeyFileSize bounds what LoadKey reads from a key file.
const maxKeyFileSize = 64 << 10

// ErrNoKey is returned (wrapped) by LoadKey when no key is configured. The
// caller should stop: `vigil collect` refuses to start without a key, and
// `vigil up` uses EnsureKeyFile instead.
var ErrNoKey = errors.New("no pseudonymisation key: set " + EnvKey + " to a key (hex or base64, at least 32 bytes; generate one with `openssl rand -hex 32`), or set " + EnvKeyFile + " or pseudonymise.key_file to a file holding one (chmod 600)")

// Key is HMAC key material. It never prints: fmt (every verb), slog and
// encoding/json show "[REDACTED key_id=…]". Use ID to tell keys apart.
type Key []byte

// ID returns the key's ID: the first 8 hex digits of SHA-256(key).
func (k Key) ID() string { return KeyID(k) }

// String shows the key's ID, never the key.
func (k Key) String() string {
	if len(k) == 0 {
		return ""
	}
	return "[REDACTED key_id=" + k.ID() + "]"
}

// GoString keeps %#v redacted.
func (k Key) GoString() string { return `pseudo.Key("` + k.String() + `")` }

// Format redacts under every verb, including %x and %s, which fmt would
// otherwise apply to the bytes.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, k.GoString())
		return
	}
	_, _ = io.WriteString(f, k.String())
}

// LogValue implements slog.LogValuer.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText keeps encoding/json and YAML encoders redacted too.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// KeyID returns the ID of key: the first 8 hex digits of SHA-256(key).
// It tells operators which key is in use without revealing it.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// LoadKey returns the HMAC key for `vigil collect`, from the first of:
//
//  1. VIGIL_PSEUDONYMISE_KEY in env: the key itself;
//  2. VIGIL_PSEUDONYMISE_KEY_FILE in env: a file holding it;
//  3. cfg.KeyFile: a file holding it.
//
// Setting both environment variables is an error. A key is hex (tried
// first: only hex digits, even length) or base64 (standard or URL
// alphabet, padded or not), surrounding white space ignored, and must
// decode to at least 32 bytes. A key file must be a regular file that
// neither group nor others can read or write (mode 0600 or 0400); the error
// says which chmod to run. With no key at all, the error wraps ErrNoKey and
// says how to provide one. Errors never contain key material.
func LoadKey(env []string, cfg Config) (Key, error) {
	var inline, file string
	var hasInline, hasFile bool
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch name {
		case EnvKey:
			inline, hasInline = val, val != ""
		case EnvKeyFile:
			file, hasFile = val, val != ""
		}
	}
	switch {
	case hasInline && hasFile:
		return nil, fmt.Errorf("both %s and %s are set; set one", EnvKey, EnvKeyFile)
	case hasInline:
		k, err := decodeKey(inline)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return k, nil
	case hasFile:
		return readKeyFile(file, EnvKeyFile)
	case cfg.KeyFile != "":
		return readKeyFile(cfg.KeyFile, Section+".key_file")
	}
	return nil, ErrNoKey
}

// readKeyFile reads and decodes a key file after checking its mode; origin
// names where the path came from.
func readKeyFile(path, origin string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read key file: %w", origin, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read key file: %w", origin, err)
	}
	if err := checkKeyFileMode(path, st); err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read key file %s: %w", origin, path, err)
	}
	if len(b) > maxKeyFileSize {
		return nil, fmt.Errorf("%s: key file %s is larger than 64 KiB; it should hold one key in hex or base64", origin, path)
	}
	k, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: key file %s: %w", origin, path, err)
	}
	return k, nil
}

func checkKeyFileMode(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("key file %s is not a regular file (%s)", path, st.Mode().Type())
	}
	if runtime.GOOS == "windows" {
		return nil // no Unix permission bits; rely on the ACL
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("key file %s is accessible by group or others (mode %04o); restrict it to its owner: chmod 600 %s", path, perm, path)
	}
	return nil
}

// decodeKey decodes a key written as hex or base64. Its errors describe
// the text without quoting it.
func decodeKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("key is empty")
	}
	var k []byte
	if len(s)%2 == 0 && isAllHex(s) {
		var err error
		if k, err = hex.DecodeString(s); err != nil {
			return nil, errors.New("key is not valid hex")
		}
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(s); err == nil {
				k = b
				break
			}
		}
		if k == nil {
			return nil, fmt.Errorf("key (%d characters) is neither hex nor base64", len(s))
		}
	}
	if len(k) < MinKeyLen {
		return nil, fmt.Errorf("key decodes to %d bytes; need at least %d (generate one with `openssl rand -hex 32`)", len(k), MinKeyLen)
	}
	return k, nil
}

func isAllHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// EnsureKeyFile returns the key in the file at path, creating the file
// first if it does not exist: 32 random bytes, written as hex with a
// newline, mode 0600, created exclusively (two processes racing both end up
// with the one key that won) and synced with its folder before it is used.
// created reports whether this call made it. An existing file is read as by
// LoadKey: its mode is checked and it must hold a valid key. `vigil up`
// uses it so that a first start needs no setup; keep the file, and back it
// up: a new key gives new tokens (see the package doc on rotation).
func EnsureKeyFile(path string) (key Key, created bool, err error) {
	if k, err := readKeyFile(path, "key file"); err == nil {
		return k, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("cannot create the folder of key file %s: %w", path, err)
	}

	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, fmt.Errorf("cannot generate a key: %w", err)
	}
	text := make([]byte, hex.EncodedLen(len(raw))+1)
	hex.Encode(text, raw)
	text[len(text)-1] = '\n'

	// Write a private temporary file, then link it into place: the key file
	// appears whole or not at all, and never replaces one that exists.
	tmp, err := os.CreateTemp(dir, ".pseudonymise-key-*")
	if err != nil {
		return nil, false, fmt.Errorf("cannot create key file %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeSynced(tmp, text); err != nil {
		return nil, false, fmt.Errorf("cannot write key file %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			k, err := readKeyFile(path, "key file")
			return k, false, err
		}
		// No hard links here (some network and FAT file systems): fall back
		// to an exclusive create of the file itself.
		if err := createExclusive(path, text); err != nil {
			if errors.Is(err, fs.ErrExist) {
				k, err := readKeyFile(path, "key file")
				return k, false, err
			}
			return nil, false, fmt.Errorf("cannot create key file %s: %w", path, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return nil, false, fmt.Errorf("cannot sync the folder of key file %s: %w", path, err)
	}
	return Key(raw), true, nil
}

func writeSynced(f *os.File, b []byte) error {
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func createExclusive(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := writeSynced(f, b); err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
