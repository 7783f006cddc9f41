package collector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-audit/vigil/collector/filetail"
	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/collector/spool"
	"github.com/vigil-audit/vigil/collector/syslog"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/event"
)

// SyslogConfig is the `syslog:` section: the listeners and the name of the
// sending system their events are attributed to.
type SyslogConfig struct {
	// Source is the source of every event received over syslog. Empty
	// means "syslog".
	Source        string `yaml:"source"`
	syslog.Config `yaml:",inline"`
}

// Enabled reports whether any syslog listener is configured.
func (c SyslogConfig) Enabled() bool {
	return c.TCPListen != "" || c.UDPListen != "" || c.TLSListen != ""
}

// Validate implements config.Validator.
func (c SyslogConfig) Validate() []config.Problem {
	if !c.Enabled() {
		return nil
	}
	var ps []config.Problem
	if c.Source != "" {
		if reason := checkSourceName(c.Source); reason != "" {
			ps = append(ps, config.Problem{Key: "source", Reason: reason})
		}
	}
	return append(ps, config.FromError(c.Config.Validate(), "syslog.")...)
}

// FileConfig is one entry of the `files:` section: files to follow and the
// source their events are attributed to.
type FileConfig struct {
	// Source is the source of every event read from these files.
	// Required.
	Source          string `yaml:"source"`
	filetail.Config `yaml:",inline"`
}

// Validate implements config.Validator.
func (c FileConfig) Validate() []config.Problem {
	var ps []config.Problem
	if c.Source == "" {
		ps = append(ps, config.Problem{Key: "source", Reason: "required: the name of the system that writes these files"})
	} else if reason := checkSourceName(c.Source); reason != "" {
		ps = append(ps, config.Problem{Key: "source", Reason: reason})
	}
	return append(ps, config.FromError(c.Config.Validate(), "file.")...)
}

// Options is everything a Collector is built from.
type Options struct {
	// HTTP limits ingest requests.
	HTTP HTTPConfig
	// Sources are the senders allowed over HTTP.
	Sources []SourceConfig
	// Spool is the disk spool. Its Dir is required.
	Spool spool.Config
	// Key is the pseudonymisation key; Pseudonymise its configuration.
	Key          pseudo.Key
	Pseudonymise pseudo.Config
	// Syslog listeners; none when no address is set.
	Syslog SyslogConfig
	// Files to follow.
	Files []FileConfig
	// Producer tunes the spool-to-Kafka loop.
	Producer ProducerConfig
	// NewWriter builds the Kafka writer of a topic (BusWriters).
	NewWriter func(topic string) (MessageWriter, error)
	// Logger receives the collector's logs; nil discards them.
	Logger *slog.Logger
	// Registerer receives the metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Collector runs the receivers, the spool and the producer.
//
// Lifecycle: New opens the spool (recovering it after a crash) and builds
// everything; Handler serves HTTP ingest (the caller owns the server);
// Start starts the syslog listeners, the file tailers and the producer and
// returns once they listen; Shutdown stops syslog and files, drains the
// spool to Kafka until it is empty or ctx ends, and closes the spool. Stop
// the HTTP server before calling Shutdown. Shutdown is safe without Start
// and safe twice.
type Collector struct {
	log      *slog.Logger
	spool    *spool.Spool
	ingester *Ingester
	handler  *HTTPHandler
	producer *Producer
	syslog   *syslog.Server
	tailers  []*filetail.Tailer
	mapping  syslog.MappingOptions
	source   string

	mu       sync.Mutex
	started  bool
	stopped  bool
	cancel   context.CancelFunc // stops the producer
	cancelRx context.CancelFunc // stops the tailers
	prodDone chan error
	rxWG     sync.WaitGroup
}

// New builds a collector. It fails with a message naming what is wrong:
// a bad key, a locked spool, an unusable listener configuration.
func New(o Options) (*Collector, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.NewWriter == nil {
		return nil, errors.New("collector: no Kafka writer")
	}
	ps, err := pseudo.New(o.Key, o.Pseudonymise)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	sources, err := NewSources(o.Sources)
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	m := newMetrics(o.Registerer)
	sp, err := spool.Open(o.Spool, spool.WithLogger(log), spool.WithRegisterer(o.Registerer))
	if err != nil {
		return nil, fmt.Errorf("collector: %w", err)
	}
	if r := sp.Recovery(); r.TornRecords > 0 || len(r.Corrupt) > 0 {
		log.Warn("spool recovered after a crash", "torn_records", r.TornRecords, "corrupt_regions", len(r.Corrupt))
	}
	c := &Collector{log: log, spool: sp, mapping: o.Syslog.Mapping, source: o.Syslog.Source}
	if c.source == "" {
		c.source = "syslog"
	}
	c.ingester = NewIngester(sp, ps, m, IngesterOptions{Now: o.Now})
	c.handler = NewHTTPHandler(c.ingester, sources, o.HTTP, func(err error) bool { return errors.Is(err, spool.ErrFull) }, log, m)
	c.producer, err = NewProducer(sp, o.NewWriter, o.Producer, log, m)
	if err != nil {
		sp.Close()
		return nil, fmt.Errorf("collector: %w", err)
	}
	if o.Syslog.Enabled() {
		c.syslog, err = syslog.NewServer(o.Syslog.Config, syslog.HandlerFunc(c.handleSyslog),
			syslog.WithLogger(log), syslog.WithRegisterer(o.Registerer))
		if err != nil {
			c.closeEarly()
			return nil, fmt.Errorf("collector: %w", err)
		}
	}
	for i, f := range o.Files {
		t, err := filetail.New(f.Config, &fileHandler{c: c, source: f.Source, kind: Kind(f.Kind)},
			filetail.WithLogger(log.With("files", i)), filetail.WithRegisterer(o.Registerer))
		if err != nil {
			c.closeEarly()
			return nil, fmt.Errorf("collector: files[%d]: %w", i, err)
		}
		c.tailers = append(c.tailers, t)
	}
	return c, nil
}

func (c *Collector) closeEarly() {
	c.producer.closeWriters()
	for _, t := range c.tailers {
		_ = t.Close()
	}
	_ = c.spool.Close()
}

// Handler serves POST /v1/access and POST /v1/device.
func (c *Collector) Handler() *HTTPHandler { return c.handler }

// SyslogAddrs returns the syslog listeners' addresses (after Start).
func (c *Collector) SyslogAddrs() syslog.Addrs {
	if c.syslog == nil {
		return syslog.Addrs{}
	}
	return c.syslog.Addrs()
}

// Start starts the syslog listeners, the tailers and the producer.
func (c *Collector) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.stopped {
		return errors.New("collector: Start called twice or after Shutdown")
	}
	c.started = true
	if c.syslog != nil {
		if err := c.syslog.Start(ctx); err != nil {
			return fmt.Errorf("collector: %w", err)
		}
	}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.prodDone = make(chan error, 1)
	go func() { c.prodDone <- c.producer.Run(pctx) }()

	rctx, cancelRx := context.WithCancel(context.WithoutCancel(ctx))
	c.cancelRx = cancelRx
	for i, t := range c.tailers {
		c.rxWG.Add(1)
		go func() {
			defer c.rxWG.Done()
			if err := t.Run(rctx); err != nil && rctx.Err() == nil {
				c.log.Error("file tailer stopped", "files", i, "err", err)
			}
		}()
	}
	return nil
}

// Ready reports whether the collector can accept events: the spool is open
// and not full, and the producer is not stuck. It is the collector's part
// of /healthz.
func (c *Collector) Ready(ctx context.Context) error {
	c.mu.Lock()
	stopped := c.stopped
	c.mu.Unlock()
	if stopped {
		return errors.New("collector is shut down")
	}
	st := c.spool.Stats()
	if err := c.producer.LastError(); err != nil {
		return fmt.Errorf("kafka is not taking records (%d waiting in the spool): %w", st.Records, err)
	}
	return nil
}

// Shutdown stops the receivers, then sends what is in the spool to Kafka
// until the spool is empty or ctx ends, then closes the spool. Records
// still in the spool are sent after the next start: nothing is lost.
func (c *Collector) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	started := c.started
	c.mu.Unlock()

	var errs []error
	if c.syslog != nil {
		c.log.Info("stopping syslog listeners")
		if err := c.syslog.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("syslog: %w", err))
		}
	}
	if c.cancelRx != nil {
		c.log.Info("stopping file tailers")
		c.cancelRx()
		c.rxWG.Wait()
	}
	for _, t := range c.tailers {
		_ = t.Close()
	}
	if started {
		c.log.Info("draining spool to kafka", "records", c.spool.Stats().Records)
		tick := time.NewTicker(20 * time.Millisecond)
	drain:
		for c.spool.Stats().Records > 0 {
			select {
			case <-ctx.Done():
				break drain
			case err := <-c.prodDone:
				c.prodDone <- err
				break drain
			case <-tick.C:
			}
		}
		tick.Stop()
		c.cancel()
		if err := <-c.prodDone; err != nil {
			errs = append(errs, fmt.Errorf("producer: %w", err))
		}
		if left := c.spool.Stats().Records; left > 0 {
			c.log.Warn("spool not drained before the shutdown deadline; the records are sent after the next start", "records", left)
		} else {
			c.log.Info("spool drained")
		}
	} else {
		c.producer.closeWriters()
	}
	if err := c.spool.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: %w", err))
	}
	return errors.Join(errs...)
}

// handleSyslog turns one syslog message into an input and ingests it. When
// the spool is full it waits for space: the connection stops being read,
// which pushes back on the sender.
func (c *Collector) handleSyslog(ctx context.Context, msg syslog.Received) error {
	o := Origin{Source: c.source, Receiver: ReceiverSyslog}
	input := Input{Data: msg.Raw, Location: msg.Transport + " " + msg.Peer}
	kind := Kind(c.mapping.Kind)
	if msg.ParseErr != nil {
		input.Reject = &Rejection{Reason: event.ReasonSyslogParse, Problems: []string{msg.ParseErr.Error()}}
	} else {
		k, body, err := syslog.ToJSON(msg.Message, c.mapping)
		if err != nil {
			input.Reject = &Rejection{Reason: event.ReasonSyslogParse, Problems: []string{err.Error()}}
		} else {
			kind, input.Data = Kind(k), body
		}
	}
	if !kind.Valid() {
		kind = KindAccess // only for the dead letter of a message whose kind is unknown
	}
	if msg.Transport == syslog.TransportUDP {
		// UDP cannot push back: blocking would only move the drops into the
		// kernel, where nobody counts them. The server counts this error.
		_, err := c.ingester.Ingest(ctx, o, kind, []Input{input})
		return err
	}
	return c.ingestWaiting(ctx, o, kind, []Input{input})
}

func (c *Collector) ingestWaiting(ctx context.Context, o Origin, kind Kind, inputs []Input) error {
	for {
		_, err := c.ingester.Ingest(ctx, o, kind, inputs)
		if !errors.Is(err, spool.ErrFull) {
			return err
		}
		if err := c.spool.WaitForSpace(ctx); err != nil {
			return err
		}
	}
}

type fileHandler struct {
	c      *Collector
	source string
	kind   Kind
}

func (h *fileHandler) HandleLines(ctx context.Context, b filetail.Batch) error {
	inputs := make([]Input, len(b.Lines))
	for i, l := range b.Lines {
		inputs[i] = Input{Data: l.Data, Location: fmt.Sprintf("%s:%d", b.Path, l.Offset)}
		if l.TooLong {
			inputs[i].Reject = &Rejection{Reason: event.ReasonTooLarge, Problems: []string{"line longer than file.max_line_bytes; only its start is kept"}}
		}
	}
	return h.c.ingestWaiting(ctx, Origin{Source: h.source, Receiver: ReceiverFile}, h.kind, inputs)
}

// Mount adds the ingest routes and returns mux, for callers that build
// their own server.
func (c *Collector) Mount(mux *http.ServeMux) *http.ServeMux {
	c.handler.Register(mux)
	return mux
}
