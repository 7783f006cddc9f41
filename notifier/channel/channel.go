package channel

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/notifier/directory"
)

// Message is one rendered notice for one recipient on one channel.
type Message struct {
	NoticeID string
	Channel  event.Channel
	Language string
	To       directory.Contact
	Subject  string
	Text     string
	SMS      string
	HTML     string
}

// Receipt records an accepted delivery.
type Receipt struct {
	MessageID string
	Channel   event.Channel
	At        time.Time
}

// Sender delivers one message. Implementations are plain: no retries.
type Sender interface {
	Send(ctx context.Context, m Message) (Receipt, error)
}

// Error classifies a send failure. Permanent errors must not be retried.
type Error struct {
	Permanent bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ErrNoAddress reports that the contact lacks an address for the channel (permanent).
var ErrNoAddress = errors.New("contact has no address for channel")

func permanent(format string, a ...any) error {
	return &Error{Permanent: true, Err: fmt.Errorf(format, a...)}
}
func retryable(format string, a ...any) error {
	return &Error{Permanent: false, Err: fmt.Errorf(format, a...)}
}

// IsPermanent reports whether err is classified permanent. Context errors are not.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// Policy configures Retry.
type Policy struct {
	MaxAttempts int           // default 5
	Base        time.Duration // first backoff; default 1s
	Max         time.Duration // backoff cap; default 1m
}

type retrySender struct {
	s Sender
	p Policy
}

// Retry wraps s with exponential backoff with full jitter. It stops on permanent
// errors, on ctx cancellation and after MaxAttempts.
func Retry(s Sender, p Policy) Sender {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	if p.Base <= 0 {
		p.Base = time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Minute
	}
	return retrySender{s, p}
}

func (r retrySender) Send(ctx context.Context, m Message) (Receipt, error) {
	var err error
	for attempt := 0; attempt < r.p.MaxAttempts; attempt++ {
		var rc Receipt
		rc, err = r.s.Send(ctx, m)
		if err == nil || IsPermanent(err) {
			return rc, err
		}
		if attempt == r.p.MaxAttempts-1 {
			break
		}
		d := r.p.Base << attempt
		if d > r.p.Max || d <= 0 {
			d = r.p.Max
		}
		d = d/2 + rand.N(d/2+1)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return Receipt{}, fmt.Errorf("send %s: %w (last error: %v)", m.NoticeID, ctx.Err(), err)
		case <-t.C:
		}
	}
	return Receipt{}, fmt.Errorf("send %s: %d attempts: %w", m.NoticeID, r.p.MaxAttempts, err)
}

// Fallback tries channels in order, skipping ones the contact has no address for and
// moving on after a permanent failure. The receipt's Channel says which delivered.
func Fallback(order []event.Channel, senders map[event.Channel]Sender) Sender {
	return fallback{order, senders}
}

type fallback struct {
	order   []event.Channel
	senders map[event.Channel]Sender
}

func (f fallback) Send(ctx context.Context, m Message) (Receipt, error) {
	var errs []error
	for _, ch := range f.order {
		s, ok := f.senders[ch]
		if !ok {
			continue
		}
		if !HasAddress(m.To, ch) {
			errs = append(errs, fmt.Errorf("%s: %w", ch, ErrNoAddress))
			continue
		}
		mm := m
		mm.Channel = ch
		rc, err := s.Send(ctx, mm)
		if err == nil {
			rc.Channel = ch
			return rc, nil
		}
		if !IsPermanent(err) {
			return Receipt{}, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", ch, err))
	}
	return Receipt{}, &Error{Permanent: true, Err: fmt.Errorf("send %s: all channels failed: %w", m.NoticeID, errors.Join(errs...))}
}

// HasAddress reports whether c can be reached on ch.
func HasAddress(c directory.Contact, ch event.Channel) bool {
	switch ch {
	case event.ChannelEmail:
		return c.Email != ""
	case event.ChannelSMS, event.ChannelPhone:
		return c.Phone != ""
	case event.ChannelPush:
		return c.PushID != ""
	case event.ChannelLetter:
		return len(c.Postal) > 0
	}
	return false
}
