package channel

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/pdf"
)

// safeName rejects notice ids that cannot be used as file names.
func safeName(id string) error {
	if !safeLocal(id) || strings.HasPrefix(id, ".") {
		return permanent("notice id %q is not usable as a file name", id)
	}
	return nil
}

// writeOnce atomically creates path with data: temp file, fsync, hard link (fails if
// path exists), fsync of the directory. It reports created=false if path existed.
func writeOnce(path string, data []byte) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
		return false, err
	}
	return true, syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func modTime(path string) time.Time {
	if st, err := os.Stat(path); err == nil {
		return st.ModTime().UTC()
	}
	return time.Time{}
}

// Outbox writes each notice to Dir as <notice-id>.eml (email, the exact bytes the SMTP
// sender builds) or <notice-id>.json (other channels). Idempotent by notice id.
type Outbox struct {
	Dir    string
	From   mail.Address
	Domain string
	Now    func() time.Time
}

// OutboxJSON is the document written for non-email channels.
type OutboxJSON struct {
	NoticeID string        `json:"notice_id"`
	Channel  event.Channel `json:"channel"`
	Language string        `json:"language"`
	Name     string        `json:"name"`
	To       string        `json:"to"`
	Postal   []string      `json:"postal,omitempty"`
	Subject  string        `json:"subject,omitempty"`
	Text     string        `json:"text"`
	SMS      string        `json:"sms,omitempty"`
}

// Send implements Sender.
func (o *Outbox) Send(ctx context.Context, m Message) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, err
	}
	if err := safeName(m.NoticeID); err != nil {
		return Receipt{}, err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var data []byte
	var err error
	ext, msgID := ".json", m.NoticeID
	if m.Channel == event.ChannelEmail {
		ext, msgID = ".eml", MessageID(m.NoticeID, o.Domain)
		data, err = BuildEmail(m, o.From, o.Domain, now())
	} else {
		to := ""
		switch m.Channel {
		case event.ChannelSMS, event.ChannelPhone:
			to = m.To.Phone
		case event.ChannelPush:
			to = m.To.PushID
		}
		data, err = json.MarshalIndent(OutboxJSON{m.NoticeID, m.Channel, m.Language, m.To.Name, to,
			m.To.Postal, m.Subject, m.Text, m.SMS}, "", "  ")
		data = append(data, '\n')
	}
	if err != nil {
		return Receipt{}, err
	}
	path := filepath.Join(o.Dir, m.NoticeID+ext)
	if _, err := writeOnce(path, data); err != nil {
		return Receipt{}, retryable("outbox %s: %w", m.NoticeID, err)
	}
	return Receipt{MessageID: msgID, Channel: m.Channel, At: modTime(path)}, nil
}

// csvBatch is an append-only CSV file whose first column is the notice id.
type csvBatch struct {
	mu     sync.Mutex
	path   string
	header []string
}

func (c *csvBatch) has(id string) (bool, error) {
	f, err := os.Open(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("%s: %w", c.path, err)
		}
		if len(rec) > 0 && rec[0] == id {
			return true, nil
		}
	}
}

// add appends row unless its notice id is present; it reports whether it appended.
func (c *csvBatch) add(row []string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok, err := c.has(row[0])
	if err != nil || ok {
		return false, err
	}
	_, statErr := os.Stat(c.path)
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return false, err
	}
	defer f.Close()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if errors.Is(statErr, os.ErrNotExist) {
		w.Write(c.header)
	}
	safe := make([]string, len(row))
	for i, v := range row {
		safe[i] = csvSafe(v)
	}
	w.Write(safe)
	w.Flush()
	if err := w.Error(); err != nil {
		return false, err
	}
	if _, err := f.Write(b.Bytes()); err != nil {
		return false, err
	}
	return true, f.Sync()
}

// csvSafe neutralises spreadsheet formula injection on every line of a cell.
func csvSafe(v string) string {
	lines := strings.Split(v, "\n")
	for i, l := range lines {
		if l != "" && strings.ContainsRune("=+-@\t\r", rune(l[0])) {
			lines[i] = "'" + l
		}
	}
	return strings.Join(lines, "\n")
}

// LetterBatch appends one row per notice to Dir/letters.csv and writes Dir/<id>.pdf.
// Re-sending a notice id adds neither a row nor a file.
type LetterBatch struct {
	Dir   string
	Title func(m Message) string // optional; defaults to m.Subject
	batch csvBatch
	once  sync.Once
}

// Send implements Sender.
func (l *LetterBatch) Send(ctx context.Context, m Message) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, err
	}
	if err := safeName(m.NoticeID); err != nil {
		return Receipt{}, err
	}
	if len(m.To.Postal) == 0 {
		return Receipt{}, permanent("letter %s: %w", m.NoticeID, ErrNoAddress)
	}
	l.once.Do(func() {
		l.batch = csvBatch{path: filepath.Join(l.Dir, "letters.csv"),
			header: []string{"notice_id", "name", "postal", "language", "pdf"}}
	})
	title := m.Subject
	if l.Title != nil {
		title = l.Title(m)
	}
	paras := append([]string{m.To.Name, strings.Join(m.To.Postal, "\n")}, strings.Split(m.Text, "\n\n")...)
	var b bytes.Buffer
	if err := pdf.Write(&b, pdf.Document{Title: title, Paragraphs: paras}); err != nil {
		return Receipt{}, permanent("letter %s: pdf: %w", m.NoticeID, err)
	}
	file := m.NoticeID + ".pdf"
	if _, err := writeOnce(filepath.Join(l.Dir, file), b.Bytes()); err != nil {
		return Receipt{}, retryable("letter %s: %w", m.NoticeID, err)
	}
	if _, err := l.batch.add([]string{m.NoticeID, m.To.Name, strings.Join(m.To.Postal, "\n"), m.Language, file}); err != nil {
		return Receipt{}, retryable("letter %s: batch: %w", m.NoticeID, err)
	}
	return Receipt{MessageID: m.NoticeID, Channel: event.ChannelLetter, At: modTime(filepath.Join(l.Dir, file))}, nil
}

// PhoneList appends one row per notice to Path (a call list). Idempotent by notice id.
type PhoneList struct {
	Path  string
	Now   func() time.Time
	batch csvBatch
	once  sync.Once
}

// Send implements Sender.
func (p *PhoneList) Send(ctx context.Context, m Message) (Receipt, error) {
	if err := ctx.Err(); err != nil {
		return Receipt{}, err
	}
	if m.To.Phone == "" {
		return Receipt{}, permanent("phone %s: %w", m.NoticeID, ErrNoAddress)
	}
	p.once.Do(func() {
		p.batch = csvBatch{path: p.Path, header: []string{"notice_id", "name", "phone", "language", "script"}}
	})
	script := m.Text
	if _, err := p.batch.add([]string{m.NoticeID, m.To.Name, m.To.Phone, m.Language, script}); err != nil {
		return Receipt{}, retryable("phone %s: %w", m.NoticeID, err)
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	return Receipt{MessageID: m.NoticeID, Channel: event.ChannelPhone, At: now()}, nil
}
