// Package export writes report rows as CSV, JSON or NDJSON while they
// stream from the store, without holding them in memory, and draws the
// progress of a long export on a terminal.
//
// CSV output is meant to be opened in spreadsheets by data protection
// officers, so cells that a spreadsheet would run as a formula (starting
// with =, +, -, @, tab or carriage return) are prefixed with a single quote
// (the OWASP "CSV injection" advice): free-text fields such as purpose come
// from source systems and must not become live formulas in a DPO's
// spreadsheet.
package export

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Format is an output format.
type Format string

// Formats.
const (
	CSV    Format = "csv"    // a header line, then one line per row (RFC 4180)
	JSON   Format = "json"   // one JSON document: the report's parameters, then "rows": [...]
	NDJSON Format = "ndjson" // one JSON object per line, rows only
)

// ParseFormat parses a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case CSV, JSON, NDJSON:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want csv, json or ndjson)", s)
}

// Param is one parameter of a report, echoed in JSON output so a file says
// what it answers.
type Param struct {
	Name  string
	Value string
}

// Meta describes a report.
type Meta struct {
	// Report names the report ("subject_access_history").
	Report string
	// Params are the report's parameters in order.
	Params []Param
	// GeneratedAt is when the export started.
	GeneratedAt time.Time
}

// Writer writes the rows of one report. Row is called once per row; Close
// writes what ends the document and flushes. A Writer is not safe for
// concurrent use.
type Writer struct {
	format  Format
	bw      *bufio.Writer
	csv     *csv.Writer
	columns []string
	rows    int64
	cells   []string
	err     error
}

// New starts a report on w with the given columns (CSV header; JSON rows
// are the marshalled row values, whose field names should match).
func New(w io.Writer, f Format, meta Meta, columns []string) (*Writer, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, err
	}
	ew := &Writer{format: f, bw: bufio.NewWriterSize(w, 64<<10), columns: columns}
	switch f {
	case CSV:
		ew.csv = csv.NewWriter(ew.bw)
		if err := ew.csv.Write(columns); err != nil {
			return nil, fmt.Errorf("export: write header: %w", err)
		}
	case JSON:
		var b strings.Builder
		b.WriteString("{\n  \"report\": ")
		writeJSONString(&b, meta.Report)
		b.WriteString(",\n  \"generated_at\": ")
		writeJSONString(&b, meta.GeneratedAt.UTC().Format(time.RFC3339Nano))
		b.WriteString(",\n  \"parameters\": {")
		for i, p := range meta.Params {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n    ")
			writeJSONString(&b, p.Name)
			b.WriteString(": ")
			writeJSONString(&b, p.Value)
		}
		if len(meta.Params) > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString("},\n  \"rows\": [")
		if _, err := ew.bw.WriteString(b.String()); err != nil {
			return nil, fmt.Errorf("export: write header: %w", err)
		}
	}
	return ew, nil
}

func writeJSONString(b *strings.Builder, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// Rows is how many rows were written.
func (w *Writer) Rows() int64 { return w.rows }

// Row writes one row: v is marshalled for JSON and NDJSON, cells (one per
// column) are written for CSV after formula escaping.
func (w *Writer) Row(v any, cells []string) error {
	if w.err != nil {
		return w.err
	}
	switch w.format {
	case CSV:
		if len(cells) != len(w.columns) {
			return fmt.Errorf("export: row has %d cells for %d columns", len(cells), len(w.columns))
		}
		w.cells = w.cells[:0]
		for _, c := range cells {
			w.cells = append(w.cells, EscapeCell(c))
		}
		w.err = w.csv.Write(w.cells)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("export: encode row %d: %w", w.rows+1, err)
		}
		if w.format == JSON {
			sep := ",\n    "
			if w.rows == 0 {
				sep = "\n    "
			}
			_, w.err = w.bw.WriteString(sep)
		}
		if w.err == nil {
			_, w.err = w.bw.Write(b)
		}
		if w.err == nil && w.format == NDJSON {
			w.err = w.bw.WriteByte('\n')
		}
	}
	if w.err != nil {
		w.err = fmt.Errorf("export: write row %d: %w", w.rows+1, w.err)
		return w.err
	}
	w.rows++
	return nil
}

// Close ends the document (the JSON trailer holds the row count) and
// flushes. It does not close the underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	var err error
	switch w.format {
	case CSV:
		w.csv.Flush()
		err = w.csv.Error()
	case JSON:
		nl := "\n  "
		if w.rows == 0 {
			nl = ""
		}
		_, err = fmt.Fprintf(w.bw, "%s],\n  \"row_count\": %d\n}\n", nl, w.rows)
	}
	if err == nil {
		err = w.bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("export: finish: %w", err)
	}
	return nil
}

// EscapeCell returns s, prefixed with a single quote when a spreadsheet
// would take it for a formula.
func EscapeCell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
