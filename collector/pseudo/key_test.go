package pseudo_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-audit/vigil/collector/pseudo"
)

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	hexKey := hex.EncodeToString(testKey)
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.key", hexKey+"\n", 0o600)
	readOnly := write("ro.key", base64.StdEncoding.EncodeToString(testKey), 0o400)
	open := write("open.key", hexKey, 0o644)
	groupRead := write("group.key", hexKey, 0o640)
	short := write("short.key", hex.EncodeToString(testKey[:16]), 0o600)
	empty := write("empty.key", "\n", 0o600)

	tests := []struct {
		name    string
		env     []string
		keyFile string
		want    []byte
		wantErr string
		noKey   bool
	}{
		{name: "hex", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + hexKey}, want: testKey},
		{name: "hex upper case", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + strings.ToUpper(hexKey)}, want: testKey},
		{name: "hex with spaces", env: []string{"VIGIL_PSEUDONYMISE_KEY=  " + hexKey + "\n"}, want: testKey},
		{name: "base64", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + base64.StdEncoding.EncodeToString(testKey)}, want: testKey},
		{name: "base64 raw", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + base64.RawStdEncoding.EncodeToString(testKey)}, want: testKey},
		{name: "base64 url", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + base64.RawURLEncoding.EncodeToString(testKey)}, want: testKey},
		{name: "longer key", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + hexKey + hexKey}, want: append(append([]byte{}, testKey...), testKey...)},
		{name: "too short", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + hex.EncodeToString(testKey[:31])},
			wantErr: "VIGIL_PSEUDONYMISE_KEY: key decodes to 31 bytes; need at least 32 (generate one with `openssl rand -hex 32`)"},
		{name: "bad encoding", env: []string{"VIGIL_PSEUDONYMISE_KEY=not a key, not at all!!"},
			wantErr: "VIGIL_PSEUDONYMISE_KEY: key (23 characters) is neither hex nor base64"},
		{name: "both env", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + hexKey, "VIGIL_PSEUDONYMISE_KEY_FILE=" + good},
			wantErr: "both VIGIL_PSEUDONYMISE_KEY and VIGIL_PSEUDONYMISE_KEY_FILE are set; set one"},
		{name: "env file", env: []string{"VIGIL_PSEUDONYMISE_KEY_FILE=" + good}, want: testKey},
		{name: "env file over config", env: []string{"VIGIL_PSEUDONYMISE_KEY_FILE=" + good}, keyFile: short, want: testKey},
		{name: "env key over config", env: []string{"VIGIL_PSEUDONYMISE_KEY=" + hexKey}, keyFile: short, want: testKey},
		{name: "config file", keyFile: good, want: testKey},
		{name: "config file 0400 base64", keyFile: readOnly, want: testKey},
		{name: "file too open", keyFile: open,
			wantErr: "pseudonymise.key_file: key file " + open + " is accessible by group or others (mode 0644); restrict it to its owner: chmod 600 " + open},
		{name: "file group readable", env: []string{"VIGIL_PSEUDONYMISE_KEY_FILE=" + groupRead},
			wantErr: "VIGIL_PSEUDONYMISE_KEY_FILE: key file " + groupRead + " is accessible by group or others (mode 0640); restrict it to its owner: chmod 600 " + groupRead},
		{name: "file short", keyFile: short, wantErr: "pseudonymise.key_file: key file " + short + ": key decodes to 16 bytes; need at least 32"},
		{name: "file empty", keyFile: empty, wantErr: "key file " + empty + ": key is empty"},
		{name: "file missing", keyFile: filepath.Join(dir, "nope"), wantErr: "pseudonymise.key_file: cannot read key file: open " + filepath.Join(dir, "nope") + ": no such file or directory"},
		{name: "file is a folder", keyFile: dir, wantErr: "is not a regular file"},
		{name: "empty env is unset", env: []string{"VIGIL_PSEUDONYMISE_KEY=", "OTHER=1", "junk"}, noKey: true,
			wantErr: "no pseudonymisation key: set VIGIL_PSEUDONYMISE_KEY to a key (hex or base64, at least 32 bytes; generate one with `openssl rand -hex 32`), or set VIGIL_PSEUDONYMISE_KEY_FILE or pseudonymise.key_file to a file holding one (chmod 600)"},
		{name: "missing", noKey: true, wantErr: "no pseudonymisation key: set VIGIL_PSEUDONYMISE_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runtime.GOOS == "windows" && strings.Contains(tt.wantErr, "accessible") {
				t.Skip("no Unix permissions")
			}
			k, err := pseudo.LoadKey(tt.env, pseudo.Config{KeyFile: tt.keyFile})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if errors.Is(err, pseudo.ErrNoKey) != tt.noKey {
					t.Errorf("errors.Is(ErrNoKey) = %v, want %v", !tt.noKey, tt.noKey)
				}
				if strings.Contains(err.Error(), hexKey[:16]) {
					t.Errorf("error contains key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(k) != string(tt.want) {
				t.Errorf("key %x, want %x", []byte(k), tt.want)
			}
		})
	}
}

func TestKeyRedacted(t *testing.T) {
	k := pseudo.Key(testKey)
	id := pseudo.KeyID(testKey)
	if len(id) != 8 || k.ID() != id {
		t.Fatalf("KeyID = %q, ID = %q", id, k.ID())
	}
	// sha256(bytes(range(32)))[:4], by: python3 -c "import hashlib;print(hashlib.sha256(bytes(range(32))).hexdigest()[:8])"
	if id != "630dcd29" {
		t.Errorf("KeyID = %q, want 630dcd29", id)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("key loaded", "key", k)
	js, _ := json.Marshal(struct{ K pseudo.Key }{k})
	outs := []string{
		fmt.Sprint(k), fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d", k, k, k, k, k, k, k, k),
		k.String(), k.GoString(), logged.String(), string(js),
	}
	raw := hex.EncodeToString(testKey)
	for _, o := range outs {
		if strings.Contains(strings.ToLower(o), raw[:12]) || strings.Contains(o, string(testKey[1:8])) ||
			strings.Contains(o, "0 1 2 3") || strings.Contains(o, base64.StdEncoding.EncodeToString(testKey)[:12]) {
			t.Errorf("key material printed: %s", o)
		}
		if !strings.Contains(o, id) {
			t.Errorf("key id missing: %s", o)
		}
	}
	if pseudo.Key(nil).String() != "" {
		t.Error("empty key does not print empty")
	}
}

func TestEnsureKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "pseudonymise.key")

	k1, created, err := pseudo.EnsureKeyFile(path)
	if err != nil || !created || len(k1) != 32 {
		t.Fatalf("first: %d bytes, created %v, %v", len(k1), created, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && st.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", st.Mode().Perm())
	}
	content, _ := os.ReadFile(path)
	if string(content) != hex.EncodeToString(k1)+"\n" {
		t.Errorf("file holds %q, want the key in hex and a newline", content)
	}

	k2, created, err := pseudo.EnsureKeyFile(path)
	if err != nil || created || string(k2) != string(k1) {
		t.Fatalf("second: created %v, same %v, %v", created, string(k1) == string(k2), err)
	}
	// LoadKey reads the same file.
	k3, err := pseudo.LoadKey(nil, pseudo.Config{KeyFile: path})
	if err != nil || string(k3) != string(k1) {
		t.Fatalf("LoadKey: same %v, %v", string(k3) == string(k1), err)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries, want 1", len(entries))
	}

	// A file that is too open is refused, not replaced.
	if runtime.GOOS != "windows" {
		if err := os.Chmod(path, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := pseudo.EnsureKeyFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("open file: %v", err)
		}
		if b, _ := os.ReadFile(path); string(b) != string(content) {
			t.Error("the key file was replaced")
		}
	}
	// A file that holds no key is refused, not replaced.
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := pseudo.EnsureKeyFile(bad); err == nil {
		t.Error("bad key file accepted")
	}
}

func TestEnsureKeyFileRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pseudonymise.key")
	const n = 8
	keys := make([]pseudo.Key, n)
	createdCount := make([]bool, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() {
			k, c, err := pseudo.EnsureKeyFile(path)
			if err != nil {
				t.Error(err)
			}
			keys[i], createdCount[i] = k, c
		})
	}
	wg.Wait()
	created := 0
	for i := range keys {
		if string(keys[i]) != string(keys[0]) {
			t.Errorf("racer %d got another key", i)
		}
		if createdCount[i] {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d racers created the file, want 1", created)
	}
}
