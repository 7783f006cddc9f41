package pdf

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func render(t *testing.T, d Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, d); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkStructure verifies xref offsets and returns the page count.
func checkStructure(t *testing.T, b []byte) int {
	t.Helper()
	m := regexp.MustCompile(`startxref\n(\d+)\n%%EOF\n$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no startxref trailer")
	}
	x, _ := strconv.Atoi(string(m[1]))
	if !bytes.HasPrefix(b[x:], []byte("xref\n")) {
		t.Fatalf("startxref %d does not point at xref", x)
	}
	lines := strings.Split(string(b[x:]), "\n")
	n, _ := strconv.Atoi(strings.Fields(lines[1])[1])
	for i := 1; i < n; i++ {
		off, _ := strconv.Atoi(lines[2+i][:10])
		want := strconv.Itoa(i) + " 0 obj\n"
		if !bytes.HasPrefix(b[off:], []byte(want)) {
			t.Fatalf("xref entry %d offset %d does not point at %q", i, off, want)
		}
	}
	for _, sm := range regexp.MustCompile(`(?s)<< /Length (\d+) >>\nstream\n(.*?)endstream`).FindAllSubmatch(b, -1) {
		l, _ := strconv.Atoi(string(sm[1]))
		if l != len(sm[2]) {
			t.Fatalf("stream length %d, actual %d", l, len(sm[2]))
		}
	}
	c := regexp.MustCompile(`/Type /Pages /Kids \[[^\]]*\] /Count (\d+)`).FindSubmatch(b)
	count, _ := strconv.Atoi(string(c[1]))
	if got := bytes.Count(b, []byte("/Type /Page /Parent")); got != count {
		t.Fatalf("/Count %d but %d page objects", count, got)
	}
	return count
}

func TestWrite(t *testing.T) {
	long := strings.Repeat("The quick brown fox jumps over the lazy dog (and \\ friends). ", 400)
	tests := []struct {
		name      string
		doc       Document
		minPages  int
		wantBytes []string
	}{
		{"en", Document{Title: "Notice of a personal data incident", Paragraphs: []string{"Dear Ann,", "We are writing to tell you… café."}}, 1, []string{"/Helvetica", "(Dear Ann,)", "caf\\351", "you\\205"}},
		{"zh", Document{Title: "个人信息安全事件告知书", Paragraphs: []string{"尊敬的张三：", "我们发现了一起个人信息安全事件。"}}, 1, []string{"/STSong-Light", "/UniGB-UTF16-H", "<5C0A656C76845F204E09FF1A>"}},
		{"long", Document{Title: "Report", Paragraphs: []string{long, strings.Repeat("中文段落。", 2000)}}, 3, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := render(t, tt.doc)
			if !bytes.Equal(b, render(t, tt.doc)) {
				t.Fatal("output not deterministic")
			}
			if n := checkStructure(t, b); n < tt.minPages {
				t.Fatalf("pages %d < %d", n, tt.minPages)
			}
			for _, w := range tt.wantBytes {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("missing %q", w)
				}
			}
			golden := filepath.Join("testdata", tt.name+".pdf")
			if *update {
				os.MkdirAll("testdata", 0o755)
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("differs from %s (run with -update)", golden)
			}
			tool := ""
			for _, c := range []string{"qpdf", "pdftotext"} {
				if p, err := exec.LookPath(c); err == nil {
					tool = p
					break
				}
			}
			if tool == "" {
				t.Log("qpdf/pdftotext not installed (Debian packages qpdf or poppler-utils); external check skipped")
				return
			}
			f := filepath.Join(t.TempDir(), "x.pdf")
			os.WriteFile(f, b, 0o644)
			var cmd *exec.Cmd
			if strings.HasSuffix(tool, "qpdf") {
				cmd = exec.Command(tool, "--check", f)
			} else {
				cmd = exec.Command(tool, f, "-")
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tool, err, out)
			}
		})
	}
}

func TestWrapAndEscape(t *testing.T) {
	if got := latinString(`a(b)\c`); got != `(a\(b\)\\c)` {
		t.Errorf("latinString = %s", got)
	}
	ls := wrap(strings.Repeat("word ", 100), bodySize)
	if len(ls) < 3 {
		t.Fatalf("expected wrapping, got %d lines", len(ls))
	}
	for _, l := range ls[:len(ls)-1] {
		if strings.HasSuffix(l.text, " ") || strings.Contains(l.text, "wor ") {
			t.Errorf("bad break %q", l.text)
		}
	}
	if d := (Document{Created: mustTime(t)}); !bytes.Contains(render(t, d), []byte("/CreationDate (D:20260102030405Z)")) {
		t.Error("creation date missing")
	}
	if bytes.Contains(render(t, Document{Title: "x"}), []byte("CreationDate")) {
		t.Error("unexpected creation date")
	}
}
