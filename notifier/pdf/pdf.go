package pdf

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
)

// Document is a printable letter or report.
type Document struct {
	Title      string
	Paragraphs []string
	Created    time.Time // optional; zero means no /CreationDate
}

const (
	pageW, pageH = 595.0, 842.0 // A4 in points
	margin       = 56.0
	bodySize     = 11.0
	titleSize    = 16.0
	leading      = 1.4
)

type line struct {
	text string
	size float64
	cjk  bool
}

// Write renders d to w.
func Write(w io.Writer, d Document) error {
	var lines []line
	if d.Title != "" {
		lines = append(lines, wrap(d.Title, titleSize)...)
		lines = append(lines, line{size: bodySize})
	}
	for _, p := range d.Paragraphs {
		for _, pl := range strings.Split(strings.ReplaceAll(p, "\r\n", "\n"), "\n") {
			lines = append(lines, wrap(pl, bodySize)...)
		}
		lines = append(lines, line{size: bodySize})
	}
	// paginate
	var pages [][]line
	var cur []line
	y := pageH - margin
	for _, l := range lines {
		h := l.size * leading
		if y-h < margin && len(cur) > 0 {
			pages = append(pages, cur)
			cur, y = nil, pageH-margin
		}
		cur = append(cur, l)
		y -= h
	}
	if len(cur) > 0 || len(pages) == 0 {
		pages = append(pages, cur)
	}

	var b bytes.Buffer
	var offs []int
	obj := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	b.WriteString("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
	// 1 catalog, 2 pages, 3 Helvetica, 4 Type0, 5 CIDFont, 6 info, then page+content pairs.
	first := 7
	kids := make([]string, len(pages))
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", first+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(pages)))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	obj("<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UTF16-H /DescendantFonts [5 0 R] >>")
	obj("<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 4 >> /FontDescriptor << /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [-25 -254 1000 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >> /DW 1000 >>")
	info := "<< /Producer (vigil)"
	if d.Title != "" {
		info += " /Title " + textString(d.Title)
	}
	if !d.Created.IsZero() {
		info += " /CreationDate (D:" + d.Created.UTC().Format("20060102150405") + "Z)"
	}
	obj(info + " >>")
	for i, pg := range pages {
		var c bytes.Buffer
		y := pageH - margin
		for _, l := range pg {
			y -= l.size * leading
			if l.text == "" {
				continue
			}
			font, s := "/F1", latinString(l.text)
			if l.cjk {
				font, s = "/F2", hexUTF16(l.text)
			}
			fmt.Fprintf(&c, "BT %s %s Tf %s %s Td %s Tj ET\n", font, num(l.size), num(margin), num(y), s)
		}
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %s %s] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>", num(pageW), num(pageH), first+2*i+1))
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", c.Len(), c.String()))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	_, err := w.Write(b.Bytes())
	return err
}

func num(f float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

// winAnsiExtra maps common punctuation outside Latin-1 to WinAnsiEncoding codes.
var winAnsiExtra = map[rune]byte{'€': 0x80, '‚': 0x82, '„': 0x84, '…': 0x85, '‘': 0x91, '’': 0x92,
	'“': 0x93, '”': 0x94, '•': 0x95, '–': 0x96, '—': 0x97, '™': 0x99}

func isCJK(s string) bool {
	for _, r := range s {
		if _, ok := winAnsiExtra[r]; !ok && r > 0xFF {
			return true
		}
	}
	return false
}

// width estimates the rendered width of r in em units.
func width(r rune) float64 {
	switch {
	case r > 0xFF:
		return 1.0
	case r == ' ' || r == 'i' || r == 'l' || r == 'j' || r == '.' || r == ',' || r == '\'' || r == 'I' || r == 'f' || r == 't':
		return 0.28
	case r >= 'A' && r <= 'Z', r == 'm', r == 'w':
		return 0.72
	}
	return 0.56
}

func wrap(text string, size float64) []line {
	cjk := isCJK(text)
	max := (pageW - 2*margin) / size
	var out []line
	var cur []rune
	var w float64
	lastSpace := -1
	for _, r := range text {
		if r == '\t' {
			r = ' '
		}
		cur = append(cur, r)
		w += width(r)
		if r == ' ' {
			lastSpace = len(cur) - 1
		}
		if w > max && len(cur) > 1 {
			cut := len(cur) - 1
			if lastSpace > 0 && !(r > 0xFF) {
				cut = lastSpace + 1
			}
			out = append(out, line{strings.TrimRight(string(cur[:cut]), " "), size, cjk})
			cur = append([]rune(nil), cur[cut:]...)
			w = 0
			lastSpace = -1
			for i, c := range cur {
				w += width(c)
				if c == ' ' {
					lastSpace = i
				}
			}
		}
	}
	return append(out, line{string(cur), size, cjk})
}

// latinString encodes s as a PDF literal string in WinAnsi (Latin-1 subset).
func latinString(s string) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		case r < 0x80:
			b.WriteRune(r)
		case r >= 0xA0 && r <= 0xFF:
			fmt.Fprintf(&b, "\\%03o", r)
		case winAnsiExtra[r] != 0:
			fmt.Fprintf(&b, "\\%03o", winAnsiExtra[r])
		default:
			b.WriteByte('?')
		}
	}
	b.WriteByte(')')
	return b.String()
}

func hexUTF16(s string) string {
	var b strings.Builder
	b.WriteByte('<')
	for _, u := range utf16.Encode([]rune(s)) {
		fmt.Fprintf(&b, "%04X", u)
	}
	b.WriteByte('>')
	return b.String()
}

// textString encodes s for the document information dictionary.
func textString(s string) string {
	if !isCJK(s) {
		return latinString(s)
	}
	return "<FEFF" + hexUTF16(s)[1:]
}
