package notifier

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/event"
	"github.com/vigil-audit/vigil/internal/store"
	"github.com/vigil-audit/vigil/notifier/channel"
	"github.com/vigil-audit/vigil/notifier/deadline"
	"github.com/vigil-audit/vigil/notifier/delivery"
	"github.com/vigil-audit/vigil/notifier/directory"
	"github.com/vigil-audit/vigil/notifier/incident"
	"github.com/vigil-audit/vigil/notifier/regime"
	"github.com/vigil-audit/vigil/notifier/render"
)

// Settings is the notify: section of the configuration: who may run
// incidents, which legal regimes apply, where contacts come from and how
// notices go out. Secrets come from the environment or files, never from
// the file itself.
type Settings struct {
	// Listen is the HTTP address of `vigil notify` (API, console,
	// /metrics, /healthz). `vigil up` serves them on its own port. Default
	// 127.0.0.1:8090.
	Listen string `yaml:"listen"`
	// Group is the consumer group on the alerts topic. Default
	// vigil-notify.
	Group string `yaml:"group"`
	// Operators may use the API and console; each has roles (analyst,
	// dpo, admin) and the SHA-256 of a bearer token.
	Operators []OperatorConfig `yaml:"operators"`
	// Regimes and Templates are folders replacing the built-in regime
	// files and notice templates. Empty: built in.
	Regimes   string `yaml:"regimes"`
	Templates string `yaml:"templates"`
	// Incidents is a file with grouping, the role permission table and
	// org jurisdictions (notifier/incident's format). Empty: built in.
	Incidents string `yaml:"incidents"`
	// DefaultRegimes apply to orgs the incidents file names no
	// jurisdiction for. Default [pipl].
	DefaultRegimes []string `yaml:"default_regimes"`
	// Operator is the operator's profile for the CAC measures: ordinary,
	// cii or state_organ. Default ordinary.
	Operator string `yaml:"operator"`
	// CoveredEntity is true for a HIPAA covered entity.
	CoveredEntity bool `yaml:"covered_entity"`
	// DPO is the contact point quoted in notices and reports. Required
	// by `vigil notify`.
	DPO string `yaml:"dpo"`
	// OrgNames names the organisations (org id → name) in notices.
	OrgNames map[string]string `yaml:"org_names"`
	// DirectoryFile is a YAML or JSON contact file keyed by token;
	// DirectoryURL an HTTP directory (GET URL/contacts/{token}) with its
	// bearer token in VIGIL_NOTIFY_DIRECTORY_TOKEN or DirectoryTokenFile.
	DirectoryFile      string `yaml:"directory_file"`
	DirectoryURL       string `yaml:"directory_url"`
	DirectoryTokenFile string `yaml:"directory_token_file"`
	// SMTP sends email: host:port, mode starttls|tls|plain (plain only on
	// 127.0.0.1), user (password in VIGIL_NOTIFY_SMTP_PASSWORD or
	// SMTPPasswordFile) and the From address.
	SMTPAddr         string `yaml:"smtp_addr"`
	SMTPMode         string `yaml:"smtp_mode"`
	SMTPUser         string `yaml:"smtp_user"`
	SMTPPasswordFile string `yaml:"smtp_password_file"`
	From             string `yaml:"from"`
	// WebhookURL sends SMS and push through a provider, signed with the
	// HMAC secret in VIGIL_NOTIFY_WEBHOOK_SECRET or WebhookSecretFile.
	WebhookURL        string `yaml:"webhook_url"`
	WebhookSecretFile string `yaml:"webhook_secret_file"`
	// Letters is the folder of letter batches (CSV + a PDF per letter);
	// CallList the CSV of phone calls to make.
	Letters  string `yaml:"letters"`
	CallList string `yaml:"call_list"`
	// Outbox is a folder that takes every notice no configured channel
	// sends (one .eml or .json file per notice, named by notice id).
	// `vigil up` uses DATA/outbox.
	Outbox string `yaml:"outbox"`
	// EscalationWebhook receives the deadline escalations (50 %, 90 %,
	// overdue) as signed JSON; empty: logged and written to the outbox.
	EscalationWebhook string `yaml:"escalation_webhook"`
	// DispatchEvery and EscalateEvery pace the loops. Defaults 2s, 30s.
	DispatchEvery time.Duration `yaml:"dispatch_every"`
	EscalateEvery time.Duration `yaml:"escalate_every"`
}

// DefaultSettings returns the defaults.
func DefaultSettings() Settings {
	return Settings{Listen: "127.0.0.1:8090", Group: "vigil-notify", DefaultRegimes: []string{"pipl"}, Operator: "ordinary",
		SMTPMode: "starttls", DispatchEvery: 2 * time.Second, EscalateEvery: 30 * time.Second}
}

// Validate implements config.Validator.
func (s Settings) Validate() []config.Problem {
	var ps []config.Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, config.Problem{Key: key, Reason: fmt.Sprintf(format, args...)})
	}
	if _, _, err := net.SplitHostPort(s.Listen); err != nil {
		add("listen", "%q: want host:port (%v)", s.Listen, err)
	}
	if !regime.Operator(s.Operator).Valid() {
		add("operator", "%q is not one of ordinary, cii, state_organ", s.Operator)
	}
	if s.DirectoryFile != "" && s.DirectoryURL != "" {
		add("directory_url", "give directory_file or directory_url, not both")
	}
	if s.SMTPAddr != "" {
		if !strings.Contains(s.SMTPAddr, ":") {
			add("smtp_addr", "%q: want host:port", s.SMTPAddr)
		}
		if _, err := mail.ParseAddress(s.From); err != nil {
			add("from", "required with smtp_addr: a mail address (%v)", err)
		}
		switch s.SMTPMode {
		case "starttls", "tls", "plain":
		default:
			add("smtp_mode", "%q is not one of starttls, tls, plain", s.SMTPMode)
		}
	}
	if s.DispatchEvery <= 0 {
		add("dispatch_every", "must be > 0")
	}
	if s.EscalateEvery <= 0 {
		add("escalate_every", "must be > 0")
	}
	if len(s.DefaultRegimes) == 0 {
		add("default_regimes", "at least one regime (pipl, gdpr, hipaa)")
	}
	if _, err := Operators(s.Operators); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			add("operators", "%s", line)
		}
	}
	return ps
}

// Deps are what the notifier needs from its host process.
type Deps struct {
	Bus    bus.Config
	Store  store.Reader
	Logger *slog.Logger
	// Registerer registers the notifier's metrics (nil: none).
	Registerer prometheus.Registerer
	// Getenv reads secrets (VIGIL_NOTIFY_SMTP_PASSWORD, …); nil: os.Getenv.
	Getenv func(string) string
	// Operators adds operators to the configured ones (vigil up's local
	// operator).
	Operators []OperatorConfig
	// DemoDirectory answers every token with a contact that only the
	// outbox can take (`vigil up` without a directory: the demo has no
	// contact data).
	DemoDirectory bool
}

// Notifier is an assembled notifier: its service, dispatcher and API,
// and the journals to close.
type Notifier struct {
	Service    *Service
	Dispatcher *Dispatcher
	API        *API
	run        RunConfig
	closers    []func() error
}

// Assemble builds the notifier of s on the brokers and store of deps:
// incidents and notices rebuilt from their topics, regimes and templates
// loaded and checked, the directory and channels set up.
func Assemble(ctx context.Context, s Settings, deps Deps) (*Notifier, error) {
	getenv := deps.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := &Notifier{}
	fail := func(err error) (*Notifier, error) {
		n.Close()
		return nil, err
	}
	regimes, err := loadOr(s.Regimes, regime.LoadDir, regime.Default)
	if err != nil {
		return fail(fmt.Errorf("notify.regimes: %w", err))
	}
	templates, err := loadOr(s.Templates, func(dir string) (*render.Set, error) { return render.Load(os.DirFS(dir)) }, render.Default)
	if err != nil {
		return fail(fmt.Errorf("notify.templates: %w", err))
	}
	icfg := incident.DefaultConfig()
	if s.Incidents != "" {
		f, err := os.Open(s.Incidents)
		if err != nil {
			return fail(fmt.Errorf("notify.incidents: %w", err))
		}
		icfg, err = incident.DecodeConfig(s.Incidents, f)
		f.Close()
		if err != nil {
			return fail(fmt.Errorf("notify.incidents: %w", err))
		}
	}
	ops, err := Operators(append(append([]OperatorConfig(nil), s.Operators...), deps.Operators...))
	if err != nil {
		return fail(fmt.Errorf("notify.operators: %w", err))
	}
	incLog, err := bus.NewJSONLog(deps.Bus, bus.TopicIncidents, func(i *event.Incident) string { return i.IncidentID })
	if err != nil {
		return fail(fmt.Errorf("notifier: %w", err))
	}
	n.closers = append(n.closers, incLog.Close)
	book, err := OpenBook(ctx, incLog)
	if err != nil {
		return fail(fmt.Errorf("notifier: %w", err))
	}
	journal, err := delivery.NewKafkaJournal(deps.Bus, "")
	if err != nil {
		return fail(err)
	}
	n.closers = append(n.closers, journal.Close)
	ledger, err := delivery.Open(ctx, journal, delivery.Options{IsPermanent: IsPermanent, Logger: log, Registerer: deps.Registerer})
	if err != nil {
		return fail(err)
	}
	incs := NewIncidents(icfg, deps.Store)
	incs.defaults = s.DefaultRegimes
	if n := incs.Restore(book.List()); n > 0 {
		log.Info("incident grouping restored from the incidents topic", "open_incidents", n)
	}
	svc, err := New(Config{Book: book, Ledger: ledger, Scoper: incs, Transition: incs.Transition, Group: incs.Group, Logger: log,
		Planner: RegimePlanner{Set: regimes, Profile: regime.Profile{Operator: regime.Operator(s.Operator), CoveredEntity: s.CoveredEntity,
			Jurisdictions: s.DefaultRegimes, DPO: cmp.Or(s.DPO, "the data protection officer")}}})
	if err != nil {
		return fail(err)
	}
	dir, err := s.directory(getenv, deps.DemoDirectory)
	if err != nil {
		return fail(err)
	}
	senders, err := s.senders(getenv)
	if err != nil {
		return fail(err)
	}
	orgNames := s.OrgNames
	disp, err := NewDispatcher(svc, DispatcherConfig{Directory: dir, Renderer: templates, Senders: senders,
		OrgName: func(org string) string { return cmp.Or(orgNames[org], org) }})
	if err != nil {
		return fail(err)
	}
	if deps.Registerer != nil {
		if err := deps.Registerer.Register(deadline.NewCollector(svc.DeadlineObligations, nil)); err != nil {
			return fail(fmt.Errorf("notifier: registering metrics: %w", err))
		}
	}
	n.Service, n.Dispatcher, n.API = svc, disp, NewAPI(svc, disp, ops, log)
	n.run = RunConfig{Bus: deps.Bus, Group: s.Group, DispatchEvery: s.DispatchEvery, EscalateEvery: s.EscalateEvery,
		Escalate: s.escalator(getenv, senders)}
	log.Info("notifier assembled", "incidents", len(book.List()), "notices", ledger.Stats().Notices,
		"regimes", regimes.Regimes(), "channels", len(senders))
	return n, nil
}

// Run runs the notifier until ctx ends (Service.Run).
func (n *Notifier) Run(ctx context.Context) error { return n.Service.Run(ctx, n.Dispatcher, n.run) }

// Close closes the journals.
func (n *Notifier) Close() error {
	var errs []error
	for _, c := range n.closers {
		errs = append(errs, c())
	}
	n.closers = nil
	return errors.Join(errs...)
}

// loadOr loads from dir, or the built-in set when dir is empty.
func loadOr[T any](dir string, load func(string) (T, error), def func() (T, error)) (T, error) {
	if dir == "" {
		return def()
	}
	return load(dir)
}

func (s Settings) directory(getenv func(string) string, demo bool) (Directory, error) {
	switch {
	case s.DirectoryFile != "":
		d, err := directory.LoadFile(s.DirectoryFile)
		if err != nil {
			return nil, fmt.Errorf("notify.directory_file: %w", err)
		}
		return d, nil
	case s.DirectoryURL != "":
		tok := getenv(EnvDirectoryToken)
		if tok == "" && s.DirectoryTokenFile != "" {
			b, err := os.ReadFile(s.DirectoryTokenFile)
			if err != nil {
				return nil, fmt.Errorf("notify.directory_token_file: %w", err)
			}
			tok = strings.TrimSpace(string(b))
		}
		return &directory.HTTPDirectory{Base: s.DirectoryURL, Token: tok}, nil
	case demo:
		return demoDirectory{}, nil
	}
	return nil, errors.New("notify: no contact directory: set notify.directory_file or notify.directory_url")
}

// demoDirectory gives every token a contact with an email address in the
// reserved .invalid domain, so that the outbox of `vigil up` shows each
// notice as it would go out. It holds no contact data.
type demoDirectory struct{}

func (demoDirectory) Lookup(_ context.Context, token string) (Contact, error) {
	return Contact{Name: token, Language: "zh-CN", Email: token + "@recipients.invalid"}, nil
}

func (s Settings) senders(getenv func(string) string) (map[event.Channel]Sender, error) {
	out := map[event.Channel]Sender{}
	if s.SMTPAddr != "" {
		host, port, _ := strings.Cut(s.SMTPAddr, ":")
		var p int
		if _, err := fmt.Sscanf(port, "%d", &p); err != nil {
			return nil, fmt.Errorf("notify.smtp_addr: port %q: %w", port, err)
		}
		from, err := mail.ParseAddress(s.From)
		if err != nil {
			return nil, fmt.Errorf("notify.from: %w", err)
		}
		cfg := channel.SMTPConfig{Host: host, Port: p, Mode: s.SMTPMode, Username: s.SMTPUser, From: *from}
		if s.SMTPUser != "" {
			cfg.Auth = "PLAIN"
			pw, err := secretFrom(getenv, EnvSMTPPassword, s.SMTPPasswordFile)
			if err != nil {
				return nil, fmt.Errorf("notify.smtp_password_file: %w", err)
			}
			cfg.Password = pw
		}
		snd, err := channel.NewSMTP(cfg)
		if err != nil {
			return nil, fmt.Errorf("notify.smtp_addr: %w", err)
		}
		out[event.ChannelEmail] = snd
	}
	if s.WebhookURL != "" {
		secret, err := secretFrom(getenv, EnvWebhookSecret, s.WebhookSecretFile)
		if err != nil {
			return nil, fmt.Errorf("notify.webhook_secret_file: %w", err)
		}
		w := &channel.WebhookSender{URL: s.WebhookURL, Secret: []byte(secret)}
		out[event.ChannelSMS], out[event.ChannelPush] = w, w
	}
	if s.Letters != "" {
		out[event.ChannelLetter] = &channel.LetterBatch{Dir: s.Letters}
	}
	if s.CallList != "" {
		out[event.ChannelPhone] = &channel.PhoneList{Path: s.CallList}
	}
	if s.Outbox != "" {
		if err := os.MkdirAll(s.Outbox, 0o700); err != nil {
			return nil, fmt.Errorf("notify.outbox: %w", err)
		}
		from, err := mail.ParseAddress(cmp.Or(s.From, "Vigil <notices@vigil.invalid>"))
		if err != nil {
			return nil, fmt.Errorf("notify.from: %w", err)
		}
		ob := &channel.Outbox{Dir: s.Outbox, From: *from, Domain: "vigil.invalid"}
		for _, c := range event.Channels() {
			if out[c] == nil {
				out[c] = ob
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("notify: no channel: configure smtp_addr, webhook_url, letters, call_list or outbox")
	}
	return out, nil
}

// escalator sends escalations to the escalation webhook or, without one,
// to the outbox (as a public-announcement-shaped JSON note) — logged
// either way by Run.
func (s Settings) escalator(getenv func(string) string, senders map[event.Channel]Sender) func(context.Context, deadline.Escalation) error {
	var snd Sender
	switch {
	case s.EscalationWebhook != "":
		secret, _ := secretFrom(getenv, EnvWebhookSecret, s.WebhookSecretFile)
		snd = &channel.WebhookSender{URL: s.EscalationWebhook, Secret: []byte(secret)}
	case s.Outbox != "":
		snd = senders[event.ChannelPublicAnnouncement]
	default:
		return nil
	}
	return func(ctx context.Context, e deadline.Escalation) error {
		id := fmt.Sprintf("escalation-%s-%02.0f", strings.NewReplacer("/", "-", ".", "-").Replace(e.Obligation.ID), 100*e.Threshold)
		_, err := snd.Send(ctx, Message{NoticeID: id, Channel: event.ChannelPush, Language: "en",
			To: Contact{Name: "security team", PushID: "security-team"}, Subject: "Vigil deadline escalation", Text: e.String(), SMS: e.String()})
		return err
	}
}

// The environment variables holding the notifier's secrets. They are not
// configuration keys (secrets never sit in the config file); the config
// loader is told they are read here.
const (
	EnvSMTPPassword   = "VIGIL_NOTIFY_SMTP_PASSWORD"
	EnvWebhookSecret  = "VIGIL_NOTIFY_WEBHOOK_SECRET"
	EnvDirectoryToken = "VIGIL_NOTIFY_DIRECTORY_TOKEN"
)

// SecretEnv lists EnvSMTPPassword, EnvWebhookSecret and EnvDirectoryToken.
var SecretEnv = []string{EnvSMTPPassword, EnvWebhookSecret, EnvDirectoryToken}

// secretFrom returns the env variable's value (through getenv) or the
// content of file, read as the config loader reads *_FILE secrets.
func secretFrom(getenv func(string) string, name, file string) (string, error) {
	if v := getenv(name); v != "" {
		return v, nil
	}
	if file == "" {
		return "", fmt.Errorf("secret: %s is empty and no file is given", name)
	}
	v, err := config.ReadSecretFile(file)
	if err != nil {
		return "", fmt.Errorf("secret: %w", err)
	}
	return v, nil
}
