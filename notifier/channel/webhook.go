package channel

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// WebhookSender posts SMS and push notices to a provider URL.
type WebhookSender struct {
	URL     string
	Secret  []byte
	Client  *http.Client
	Timeout time.Duration // default 10s
	Now     func() time.Time
}

type webhookBody struct {
	NoticeID string        `json:"notice_id"`
	Channel  event.Channel `json:"channel"`
	To       string        `json:"to"`
	Text     string        `json:"text"`
	Language string        `json:"language"`
}

// Sign returns the X-Vigil-Signature value for ts and body.
func Sign(secret []byte, ts string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifySignature checks header (X-Vigil-Signature) against ts (X-Vigil-Timestamp,
// Unix seconds) and body, rejecting timestamps more than maxSkew from now.
func VerifySignature(secret []byte, header, ts string, body []byte, maxSkew time.Duration) error {
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook signature: bad timestamp: %w", err)
	}
	if d := time.Since(time.Unix(sec, 0)); d > maxSkew || d < -maxSkew {
		return errors.New("webhook signature: timestamp outside allowed skew")
	}
	if !strings.HasPrefix(header, "sha256=") {
		return errors.New("webhook signature: missing sha256= prefix")
	}
	if !hmac.Equal([]byte(header), []byte(Sign(secret, ts, body))) {
		return errors.New("webhook signature: mismatch")
	}
	return nil
}

// Send implements Sender. 2xx and 409 (already delivered) succeed; other 4xx are
// permanent; 5xx, 429 and transport errors are retryable.
func (w *WebhookSender) Send(ctx context.Context, m Message) (Receipt, error) {
	var to string
	switch m.Channel {
	case event.ChannelSMS:
		to = m.To.Phone
	case event.ChannelPush:
		to = m.To.PushID
	default:
		return Receipt{}, permanent("webhook %s: unsupported channel %q", m.NoticeID, m.Channel)
	}
	if to == "" {
		return Receipt{}, permanent("webhook %s: %s: %w", m.NoticeID, m.Channel, ErrNoAddress)
	}
	text := m.SMS
	if text == "" {
		text = m.Text
	}
	body, err := json.Marshal(webhookBody{m.NoticeID, m.Channel, to, text, m.Language})
	if err != nil {
		return Receipt{}, permanent("webhook %s: %w", m.NoticeID, err)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	at := now()
	ts := strconv.FormatInt(at.Unix(), 10)
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return Receipt{}, permanent("webhook %s: %w", m.NoticeID, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.NoticeID)
	req.Header.Set("X-Vigil-Timestamp", ts)
	req.Header.Set("X-Vigil-Signature", Sign(w.Secret, ts, body))
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return Receipt{}, retryable("webhook %s: %w", m.NoticeID, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode/100 == 2, resp.StatusCode == http.StatusConflict:
		return Receipt{MessageID: m.NoticeID, Channel: m.Channel, At: at}, nil
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests:
		return Receipt{}, retryable("webhook %s: status %d", m.NoticeID, resp.StatusCode)
	default:
		return Receipt{}, permanent("webhook %s: status %d", m.NoticeID, resp.StatusCode)
	}
}
