// Package pdf writes minimal PDF 1.4 documents for letters and reports.
//
// A Document is a title and paragraphs laid out on A4 pages with line wrapping and
// page breaks. Paragraphs containing only Latin-1 text use the standard Helvetica font
// (WinAnsiEncoding); any paragraph with other characters (for example Chinese) uses the
// non-embedded Adobe CJK font STSong-Light (Type0 / CIDFontType0, encoding
// UniGB-UTF16-H, strings as UTF-16BE hex), so zh-CN letters render in conforming viewers
// without embedding a font. Line widths are estimated (Helvetica metrics for ASCII, a
// full em for CJK), which is adequate for wrapping but not typeset justification.
//
// Output is deterministic: the same Document yields the same bytes. No creation date is
// written unless Document.Created is set.
package pdf
