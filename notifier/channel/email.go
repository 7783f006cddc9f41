package channel

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// MessageID returns the deterministic RFC 5322 Message-ID for a notice id.
func MessageID(noticeID, domain string) string {
	local := noticeID
	if !safeLocal(local) {
		h := sha256.Sum256([]byte(noticeID))
		local = hex.EncodeToString(h[:16])
	}
	return "<" + local + "@" + domain + ">"
}

func safeLocal(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(".-_", r)) {
			return false
		}
	}
	return true
}

// BuildEmail renders m as RFC 5322 bytes (CRLF line endings): multipart/alternative
// with a UTF-8 quoted-printable text part and an optional HTML part. The multipart
// boundary is derived from the notice id, so output depends only on its inputs.
func BuildEmail(m Message, from mail.Address, domain string, date time.Time) ([]byte, error) {
	if m.To.Email == "" {
		return nil, permanent("email %s: %w", m.NoticeID, ErrNoAddress)
	}
	to, err := mail.ParseAddress(m.To.Email)
	if err != nil {
		return nil, permanent("email %s: recipient address: %w", m.NoticeID, err)
	}
	to.Name = m.To.Name
	var b bytes.Buffer
	h := func(k, v string) {
		if k != "Subject" && strings.ContainsAny(v, "\r\n") {
			v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
		}
		if strings.HasPrefix(v, "\r\n") {
			fmt.Fprintf(&b, "%s:%s\r\n", k, v)
			return
		}
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	sum := sha256.Sum256([]byte("boundary:" + m.NoticeID))
	boundary := "vigil-" + hex.EncodeToString(sum[:12])
	h("From", from.String())
	h("To", to.String())
	// Fold between encoded-words so long non-ASCII subjects keep lines under 78 octets.
	subj := strings.ReplaceAll(mime.BEncoding.Encode("UTF-8", m.Subject), "?= =?", "?=\r\n =?")
	if first, _, _ := strings.Cut(subj, "\r\n"); subj != m.Subject && len("Subject: "+first) > 78 {
		subj = "\r\n " + subj
	}
	h("Subject", subj)
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", MessageID(m.NoticeID, domain))
	h("X-Vigil-Notice-ID", m.NoticeID)
	if m.Language != "" {
		h("Content-Language", m.Language)
	}
	h("MIME-Version", "1.0")
	h("Content-Type", `multipart/alternative; boundary="`+boundary+`"`)
	b.WriteString("\r\n")
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, err
	}
	parts := []struct{ ct, body string }{{"text/plain; charset=UTF-8", m.Text}}
	if m.HTML != "" {
		parts = append(parts, struct{ ct, body string }{"text/html; charset=UTF-8", m.HTML})
	}
	for _, p := range parts {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ct},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		body := strings.ReplaceAll(strings.ReplaceAll(p.body, "\r\n", "\n"), "\n", "\r\n")
		if _, err := qp.Write([]byte(body)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
