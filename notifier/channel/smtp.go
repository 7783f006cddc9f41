package channel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// SMTP modes.
const (
	ModeSTARTTLS = "starttls"
	ModeTLS      = "tls"
	ModePlain    = "plain" // only allowed for 127.0.0.1
)

// SMTPConfig configures SMTPSender.
type SMTPConfig struct {
	Host     string
	Port     int
	Mode     string // starttls | tls | plain
	Auth     string // "", PLAIN or LOGIN
	Username string
	Password string // from the environment or a file (notifier.Settings), never the config file
	From     mail.Address
	Domain   string // Message-ID domain; defaults to the From domain
	TLS      *tls.Config
	Now      func() time.Time
}

// SMTPSender submits email over SMTP. It is not idempotent: see the package doc.
type SMTPSender struct{ cfg SMTPConfig }

// NewSMTP validates cfg.
func NewSMTP(cfg SMTPConfig) (*SMTPSender, error) {
	switch cfg.Mode {
	case ModeSTARTTLS, ModeTLS:
	case ModePlain:
		if cfg.Host != "127.0.0.1" {
			return nil, fmt.Errorf("smtp: mode plain is only allowed for 127.0.0.1, not %q", cfg.Host)
		}
	default:
		return nil, fmt.Errorf("smtp: unknown mode %q", cfg.Mode)
	}
	switch strings.ToUpper(cfg.Auth) {
	case "", "PLAIN", "LOGIN":
	default:
		return nil, fmt.Errorf("smtp: unknown auth %q", cfg.Auth)
	}
	if cfg.From.Address == "" {
		return nil, errors.New("smtp: from address required")
	}
	if cfg.Domain == "" {
		cfg.Domain = cfg.From.Address[strings.LastIndexByte(cfg.From.Address, '@')+1:]
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &SMTPSender{cfg}, nil
}

// Build returns the exact bytes Send would submit at time date.
func (s *SMTPSender) Build(m Message, date time.Time) ([]byte, error) {
	return BuildEmail(m, s.cfg.From, s.cfg.Domain, date)
}

// Send implements Sender.
func (s *SMTPSender) Send(ctx context.Context, m Message) (Receipt, error) {
	now := s.cfg.Now()
	msg, err := s.Build(m, now)
	if err != nil {
		return Receipt{}, err
	}
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	tlsCfg := s.cfg.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12}
	}
	var d net.Dialer
	var conn net.Conn
	if s.cfg.Mode == ModeTLS {
		conn, err = (&tls.Dialer{NetDialer: &d, Config: tlsCfg}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return Receipt{}, retryable("smtp %s: dial %s: %w", m.NoticeID, addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return Receipt{}, classify(m.NoticeID, "greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.Domain); err != nil {
		return Receipt{}, classify(m.NoticeID, "hello", err)
	}
	if s.cfg.Mode == ModeSTARTTLS {
		if err := c.StartTLS(tlsCfg); err != nil {
			return Receipt{}, classify(m.NoticeID, "starttls", err)
		}
	}
	if a := s.auth(); a != nil {
		if err := c.Auth(a); err != nil {
			return Receipt{}, classify(m.NoticeID, "auth", err)
		}
	}
	if err := c.Mail(s.cfg.From.Address); err != nil {
		return Receipt{}, classify(m.NoticeID, "mail from", err)
	}
	if err := c.Rcpt(m.To.Email); err != nil {
		return Receipt{}, classify(m.NoticeID, "rcpt to", redact(err, m.To.Email))
	}
	w, err := c.Data()
	if err != nil {
		return Receipt{}, classify(m.NoticeID, "data", err)
	}
	if _, err := w.Write(msg); err != nil {
		return Receipt{}, classify(m.NoticeID, "data write", err)
	}
	if err := w.Close(); err != nil {
		return Receipt{}, classify(m.NoticeID, "data end", err)
	}
	_ = c.Quit()
	return Receipt{MessageID: MessageID(m.NoticeID, s.cfg.Domain), Channel: event.ChannelEmail, At: now}, nil
}

func (s *SMTPSender) auth() smtp.Auth {
	switch strings.ToUpper(s.cfg.Auth) {
	case "PLAIN":
		return smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)
	case "LOGIN":
		return loginAuth{s.cfg.Username, s.cfg.Password, s.cfg.Host}
	}
	return nil
}

// classify maps SMTP reply codes: 5xx permanent, everything else retryable.
func classify(id, step string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return permanent("smtp %s: %s: %w", id, step, err)
	}
	return retryable("smtp %s: %s: %w", id, step, err)
}

// redact removes addr from a server reply so errors never carry contact details.
func redact(err error, addr string) error {
	var te *textproto.Error
	if addr == "" || !errors.As(err, &te) {
		return err
	}
	return &textproto.Error{Code: te.Code, Msg: strings.ReplaceAll(te.Msg, addr, "<recipient>")}
}

type loginAuth struct{ user, pass, host string }

func (a loginAuth) Start(si *smtp.ServerInfo) (string, []byte, error) {
	if !si.TLS && !isLocal(si.Name) {
		return "", nil, errors.New("smtp: LOGIN auth requires TLS")
	}
	if si.Name != a.host {
		return "", nil, errors.New("smtp: wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a loginAuth) Next(from []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(from))) {
	case "username:":
		return []byte(a.user), nil
	case "password:":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("smtp: unexpected LOGIN challenge")
}

func isLocal(h string) bool { return h == "localhost" || h == "127.0.0.1" || h == "::1" }
