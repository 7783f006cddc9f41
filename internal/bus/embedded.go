package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultEmbeddedListen is where the embedded broker listens by default.
const DefaultEmbeddedListen = "127.0.0.1:9092"

// EmbeddedConfig configures the embedded broker.
type EmbeddedConfig struct {
	// DataDir is where the broker keeps topics, records, committed group
	// offsets and producer state; it is created if needed, and a broker
	// started on it again finds everything a closed one had. Empty means
	// memory only: everything is gone on Close.
	DataDir string

	// Listen is the host:port to listen on. Empty means
	// DefaultEmbeddedListen; port 0 means any free port (see Addr).
	Listen string

	// Advertise is the host:port clients are told to connect to. Empty
	// means the address actually listened on, which is right unless Listen
	// is a wildcard (0.0.0.0) and clients are on other hosts.
	Advertise string

	// Partitions, when positive, is the partition count of every topic
	// created at start. Zero means each topic's own default (Topics).
	Partitions int

	// Topics are created at start when missing (also after a restart, so a
	// topic added to Vigil appears). Nil means every Vigil topic (Topics).
	Topics []TopicSpec

	// NoSync skips the fsync of each produced batch and each committed
	// offset. False (the default) makes every acknowledged write durable
	// before the client hears of it: the embedded broker is a single node,
	// there is no replica to fall back on. Set it for tests and demos where
	// a power cut may lose the last writes; a process crash loses nothing
	// either way (the writes are in the OS page cache).
	NoSync bool

	// Logger receives the broker's messages: its errors and warnings at
	// those levels, its request-level chatter at debug. Nil means discard.
	Logger *slog.Logger
}

// Embedded is an in-process Kafka-protocol broker (franz-go's kfake, one
// node) for `vigil up` and for tests. It speaks to kafka-go like a Kafka 4
// broker would, minus replication. Close it when done.
type Embedded struct {
	mu         sync.Mutex
	cluster    *kfake.Cluster
	log        *kfakeLogger
	addr       string
	partitions int
	closed     bool
	closeErr   error
}

// StartEmbedded starts the embedded broker and creates the configured topics
// that are missing. It returns once the broker accepts connections.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start embedded broker: %w", err)
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultEmbeddedListen
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		return nil, fmt.Errorf("start embedded broker: listen address %q: %w", listen, err)
	}
	if cfg.Advertise != "" && !isHostPort(cfg.Advertise) {
		return nil, fmt.Errorf("start embedded broker: advertised address %q is not host:port", cfg.Advertise)
	}
	if cfg.Partitions < 0 {
		return nil, fmt.Errorf("start embedded broker: %d partitions is negative", cfg.Partitions)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = discardLogger()
	}
	klog := &kfakeLogger{l: logger.With("component", "embedded-broker")}

	var ln net.Listener
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ClusterID("vigil-embedded"),
		kfake.WithLogger(klog),
		// kfake always asks for 127.0.0.1:<port>; we listen where we were
		// told and may advertise another address.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			l, err := net.Listen(network, listen)
			if err != nil {
				return nil, err
			}
			if cfg.Advertise != "" {
				l = advertisedListener{Listener: l, addr: advertisedAddr(cfg.Advertise)}
			}
			ln = l
			return l, nil
		}),
	}
	if cfg.Partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(cfg.Partitions))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if !cfg.NoSync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		where := "listen " + listen
		if cfg.DataDir != "" {
			where += ", data dir " + cfg.DataDir
		}
		return nil, fmt.Errorf("start embedded broker (%s): %w", where, err)
	}
	e := &Embedded{cluster: c, log: klog, addr: ln.Addr().String(), partitions: cfg.Partitions}

	topics := cfg.Topics
	if topics == nil {
		topics = Topics()
	}
	for _, t := range topics {
		if err := ctx.Err(); err != nil {
			return nil, errors.Join(fmt.Errorf("start embedded broker: %w", err), e.Close())
		}
		if c.TopicInfo(t.Name) != nil {
			continue
		}
		n := t.Partitions
		if cfg.Partitions > 0 {
			n = cfg.Partitions
		}
		if n <= 0 {
			n = partitionsFor(Config{}, t)
		}
		if err := c.CreateTopic(t.Name, int32(n), t.Configs); err != nil {
			return nil, errors.Join(fmt.Errorf("start embedded broker: create topic %s: %w", t.Name, err), e.Close())
		}
	}
	logger.Info("embedded broker started", "addr", e.addr, "data_dir", cfg.DataDir, "sync_writes", cfg.DataDir != "" && !cfg.NoSync)
	return e, nil
}

// Addr returns the host:port clients connect to.
func (e *Embedded) Addr() string { return e.addr }

// Config returns a bus configuration that points at the broker, with the
// defaults for everything else (and, when EmbeddedConfig.Partitions was set,
// the same partition count for every Vigil topic, so EnsureTopics agrees with
// the broker).
func (e *Embedded) Config() Config {
	c := Defaults()
	c.Brokers = []string{e.addr}
	if e.partitions > 0 {
		c.Partitions = make(map[string]int)
		for _, t := range Topics() {
			c.Partitions[t.Name] = e.partitions
		}
	}
	return c
}

// Close stops the broker: it stops accepting connections, closes the ones it
// has, and, with a data directory, writes its state there. Errors the broker
// met while saving are returned. Close is safe to call twice and on a nil or
// unstarted Embedded.
func (e *Embedded) Close() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed || e.cluster == nil {
		return e.closeErr
	}
	e.closed = true
	e.log.startCapture()
	e.cluster.Close()
	if err := e.log.stopCapture(); err != nil {
		e.closeErr = fmt.Errorf("close embedded broker %s: %w", e.addr, err)
	}
	return e.closeErr
}

// kfakeLogger bridges kfake's printf logger to slog with a constant message
// and the formatted text under "detail". While capturing (during Close) it
// also keeps error-level messages, so that Close can return them.
type kfakeLogger struct {
	l *slog.Logger

	mu        sync.Mutex
	capturing bool
	captured  []error
}

func (k *kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	case kfake.LogLevelInfo:
		lvl = slog.LevelDebug // one line per request: not for the info level
	default:
		lvl = slog.LevelDebug - 4
	}
	if level == kfake.LogLevelError {
		k.mu.Lock()
		if k.capturing {
			k.captured = append(k.captured, fmt.Errorf(format, args...))
		}
		k.mu.Unlock()
	}
	if !k.l.Enabled(context.Background(), lvl) {
		return
	}
	k.l.Log(context.Background(), lvl, "embedded broker", "detail", fmt.Sprintf(format, args...))
}

func (k *kfakeLogger) startCapture() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.capturing = true
}

func (k *kfakeLogger) stopCapture() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.capturing = false
	err := errors.Join(k.captured...)
	k.captured = nil
	return err
}

// advertisedListener reports addr as its address; kfake advertises its
// listener's address in metadata.
type advertisedListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisedListener) Addr() net.Addr { return l.addr }

type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }
