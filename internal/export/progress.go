package export

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Progress reports how far an export is, on stderr. On a terminal it
// redraws one line (a bar, rows done of the total, rate and time left) at
// most every Interval; elsewhere (a log file, CI) it prints a plain line
// every LineEvery, so logs are not flooded with carriage returns. Done
// prints the final line.
type Progress struct {
	w        io.Writer
	label    string
	total    int64
	terminal bool
	now      func() time.Time

	start, last time.Time
	done        int64

	// Interval bounds redraws on a terminal.
	Interval time.Duration
	// LineEvery is the time between plain lines when not on a terminal.
	LineEvery time.Duration
}

// NewProgress returns a Progress of total rows (0 when unknown) labelled
// label, drawing a bar when terminal is true.
func NewProgress(w io.Writer, label string, total int64, terminal bool) *Progress {
	return newProgress(w, label, total, terminal, time.Now)
}

func newProgress(w io.Writer, label string, total int64, terminal bool, now func() time.Time) *Progress {
	t := now()
	return &Progress{w: w, label: label, total: total, terminal: terminal, now: now, start: t, last: t,
		Interval: 200 * time.Millisecond, LineEvery: 10 * time.Second}
}

// Add records n more rows and redraws when it is time.
func (p *Progress) Add(n int64) {
	p.done += n
	if p.done&1023 != 0 && n == 1 {
		return // look at the clock once per 1024 rows
	}
	t := p.now()
	every := p.LineEvery
	if p.terminal {
		every = p.Interval
	}
	if t.Sub(p.last) < every {
		return
	}
	p.last = t
	p.draw(t, false)
}

// Done prints the final line: rows written and the time taken.
func (p *Progress) Done() {
	p.draw(p.now(), true)
}

func (p *Progress) draw(t time.Time, final bool) {
	el := t.Sub(p.start)
	rate := 0.0
	if s := el.Seconds(); s > 0 {
		rate = float64(p.done) / s
	}
	var b strings.Builder
	if p.terminal {
		b.WriteString("\r\x1b[K")
	}
	b.WriteString(p.label)
	b.WriteString(" ")
	if p.total > 0 {
		frac := float64(p.done) / float64(p.total)
		frac = min(frac, 1)
		if p.terminal {
			const width = 30
			full := int(frac * width)
			b.WriteString("[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "] ")
		}
		fmt.Fprintf(&b, "%3.0f%% %s/%s rows", frac*100, group(p.done), group(p.total))
	} else {
		fmt.Fprintf(&b, "%s rows", group(p.done))
	}
	fmt.Fprintf(&b, ", %s rows/s", group(int64(rate)))
	switch {
	case final:
		fmt.Fprintf(&b, ", done in %s", el.Round(time.Millisecond))
	case p.total > p.done && rate > 0:
		left := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		fmt.Fprintf(&b, ", about %s left", left.Round(time.Second))
	}
	if !p.terminal || final {
		b.WriteString("\n")
	}
	io.WriteString(p.w, b.String())
}

// group writes n with thousands separators: 1234567 → 1,234,567.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
