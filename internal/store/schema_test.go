package store

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSplitStatements(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"comments only", "-- a\n/* b; */\n  ;\n", nil},
		{"two", "SELECT 1; SELECT 2", []string{"SELECT 1", "SELECT 2"}},
		{"trailing semicolon and comment", "SELECT 1; -- done;\n", []string{"SELECT 1"}},
		{"semicolon in string", "SELECT 'a;b'; SELECT 2;", []string{"SELECT 'a;b'", "SELECT 2"}},
		{"escaped quote", `SELECT 'it\'s;'; SELECT 'x''y;'`, []string{`SELECT 'it\'s;'`, `SELECT 'x''y;'`}},
		{"quoted identifiers", "SELECT `a;b`, \"c;d\" FROM t;", []string{"SELECT `a;b`, \"c;d\" FROM t"}},
		{"comment markers in string", "SELECT '--;/*' ;", []string{"SELECT '--;/*'"}},
		{"line comment removed", "CREATE TABLE t ( -- why; because\n x UInt8);", []string{"CREATE TABLE t ( \n x UInt8)"}},
		{"block comment removed", "SELECT /* ; */ 1", []string{"SELECT   1"}},
		{"placeholder kept", "CREATE DATABASE IF NOT EXISTS ${db};", []string{"CREATE DATABASE IF NOT EXISTS ${db}"}},
	}
	for _, c := range cases {
		got, err := SplitStatements(c.in)
		if err != nil {
			t.Errorf("%s: SplitStatements(%q): %v", c.name, c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: SplitStatements(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
	}
}

func TestSplitStatementsUnterminated(t *testing.T) {
	for _, in := range []string{"SELECT 'a;", "SELECT 1;\n\nSELECT `x", "SELECT 1 /* x", "SELECT \"a"} {
		_, err := SplitStatements(in)
		if err == nil || !strings.Contains(err.Error(), "unterminated") || !strings.Contains(err.Error(), "line ") {
			t.Errorf("SplitStatements(%q) error = %v, want an unterminated error with a line", in, err)
		}
	}
	if _, err := SplitStatements("SELECT 1;\n\nSELECT 'x"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("error %v does not name line 3", err)
	}
}

func TestLoadMigrationsOrder(t *testing.T) {
	fsys := fstest.MapFS{
		"m/0002_b.sql":  {Data: []byte("CREATE TABLE IF NOT EXISTS ${db}.b (x UInt8) ENGINE = Memory;")},
		"m/0010_j.sql":  {Data: []byte("SELECT 10")},
		"m/0001_a.sql":  {Data: []byte("-- first\nSELECT 1; SELECT 2;")},
		"m/README.md":   {Data: []byte("not a migration")},
		"m/0003_c.sql":  {Data: []byte("SELECT 3")},
		"m/0004_d.sql":  {Data: []byte("SELECT 4")},
		"m/0005_e.sql":  {Data: []byte("SELECT 5")},
		"m/0006_f.sql":  {Data: []byte("SELECT 6")},
		"m/0007_g.sql":  {Data: []byte("SELECT 7")},
		"m/0008_h.sql":  {Data: []byte("SELECT 8")},
		"m/0009_i.sql":  {Data: []byte("SELECT 9")},
		"m/sub/0011.sq": {Data: []byte("ignored")},
	}
	ms, err := loadMigrations(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, m := range ms {
		names = append(names, m.Name)
		if m.Version != uint32(i+1) {
			t.Errorf("migration %d has version %d", i, m.Version)
		}
		if len(m.Checksum) != 64 {
			t.Errorf("%s: checksum %q", m.Name, m.Checksum)
		}
	}
	want := []string{"0001_a.sql", "0002_b.sql", "0003_c.sql", "0004_d.sql", "0005_e.sql", "0006_f.sql",
		"0007_g.sql", "0008_h.sql", "0009_i.sql", "0010_j.sql"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("order = %q, want %q", names, want)
	}
	if got := ms[0].Statements; !reflect.DeepEqual(got, []string{"SELECT 1", "SELECT 2"}) {
		t.Errorf("0001 statements = %q", got)
	}
}

func TestLoadMigrationsErrors(t *testing.T) {
	cases := map[string]struct {
		fs   fstest.MapFS
		want string
	}{
		"gap":        {fstest.MapFS{"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/0003_c.sql": {Data: []byte("SELECT 3")}}, "0003_c.sql: version 3, want 2"},
		"duplicate":  {fstest.MapFS{"m/0001_a.sql": {Data: []byte("SELECT 1")}, "m/0001_b.sql": {Data: []byte("SELECT 1")}}, "same version 1"},
		"not from 1": {fstest.MapFS{"m/0002_a.sql": {Data: []byte("SELECT 1")}}, "0002_a.sql: version 2, want 1"},
		"bad name":   {fstest.MapFS{"m/1_init.sql": {Data: []byte("SELECT 1")}}, "1_init.sql: file name is not NNNN_name.sql"},
		"upper case": {fstest.MapFS{"m/0001_Init.sql": {Data: []byte("SELECT 1")}}, "0001_Init.sql: file name"},
		"empty":      {fstest.MapFS{"m/0001_a.sql": {Data: []byte("-- nothing\n")}}, "0001_a.sql: no statements"},
		"unterminated": {fstest.MapFS{"m/0001_a.sql": {Data: []byte("SELECT 1;\nSELECT 'x")}},
			"0001_a.sql: line 2: unterminated ' quote"},
	}
	for name, c := range cases {
		_, err := loadMigrations(c.fs, "m")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error = %v, want one containing %q", name, err, c.want)
		}
	}
}

// TestEmbeddedMigrations checks the shipped schema files load and keep the
// rules Migrate and the compatibility notes rely on.
func TestEmbeddedMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_initial.sql" {
		t.Fatalf("migrations = %v, want 0001_initial.sql first", ms)
	}
	boot, err := bootstrapStatements()
	if err != nil {
		t.Fatal(err)
	}
	all := map[string][]string{"bootstrap.sql": boot}
	for _, m := range ms {
		all[m.Name] = m.Statements
	}
	banned := []string{"DateTime64", "Map(", " TTL ", "JSON", "LowCardinality", " OVER ", "Bool ", "Nested("}
	for name, stmts := range all {
		for i, s := range stmts {
			up := strings.ToUpper(s)
			if !strings.Contains(s, DBPlaceholder) {
				t.Errorf("%s statement %d does not name ${db}: %s", name, i+1, summary(s))
			}
			if strings.HasPrefix(up, "CREATE") && !strings.Contains(up, "IF NOT EXISTS") {
				t.Errorf("%s statement %d is not idempotent (no IF NOT EXISTS): %s", name, i+1, summary(s))
			}
			for _, b := range banned {
				if strings.Contains(up, strings.ToUpper(b)) {
					t.Errorf("%s statement %d uses %q, which 18.16 lacks or DESIGN.md rules out: %s", name, i+1, b, summary(s))
				}
			}
			if strings.Contains(up, "MERGETREE") && !strings.Contains(up, "REPLACINGMERGETREE") {
				t.Errorf("%s statement %d: every table is a ReplacingMergeTree: %s", name, i+1, summary(s))
			}
		}
	}
}

func TestCheckIdent(t *testing.T) {
	for _, ok := range []string{"vigil", "vigil_test_1", "_x"} {
		if err := checkIdent("database", ok); err != nil {
			t.Errorf("checkIdent(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1db", "a-b", "a.b", "a b", "x;DROP", "`x`", strings.Repeat("a", 201)} {
		if err := checkIdent("database", bad); err == nil {
			t.Errorf("checkIdent(%q) accepted", bad)
		}
	}
}
