package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/bus"
)

// ErrClosed is returned by Run on a runner that was shut down or already
// ran: build a new Runner to run again.
var ErrClosed = errors.New("detector runner: closed (build a new runner to run again)")

// Option changes how New builds a Runner.
type Option func(*Runner)

// WithLogger sends the runner's messages (and its Kafka clients') to l,
// suppressed findings included. Nil means discard.
func WithLogger(l *slog.Logger) Option { return func(r *Runner) { r.log = l } }

// WithRegisterer registers the runner's metrics with r. Nil means they
// are not registered.
func WithRegisterer(reg prometheus.Registerer) Option { return func(r *Runner) { r.reg = reg } }

// WithBehaviours gives every partition its own built-in behaviours: fn is
// called once per partition assignment and must return fresh instances
// (behave.New does). Nil means no behaviours, rules only.
func WithBehaviours(fn func() ([]detector.Behaviour, error)) Option {
	return func(r *Runner) { r.behaviours = fn }
}

// Runner runs the detector on Kafka: one consumer group over the access
// and device topics, one detector.Partition per assigned partition,
// alerts produced to the alerts topic, state kept on the state topic. See
// the package doc for the guarantees.
type Runner struct {
	cfg        Config
	busCfg     bus.Config
	set        *sigma.Set
	behaviours func() ([]detector.Behaviour, error)
	log        *slog.Logger
	reg        prometheus.Registerer
	m          *metrics
	disps      *dispStore // decisions read from the alerts topic
	bstats     *behaviourStats

	// Built by Run.
	alerts *bus.Writer
	state  *stateStore
	client *bus.Client

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
	runErr  error
	fatal   error
	active  map[partKey]*worker // partitions being worked on
	warm    map[partKey]*worker // revoked cleanly in the last generation, kept in memory

	killed     atomic.Bool        // tests: stop like a crash
	killCtx    context.Context    // ends on kill: attempts to write are cut short
	killCancel context.CancelFunc //
}

// partKey names one partition of one input topic.
type partKey struct {
	topic     string
	partition int
}

// New returns a runner of the rules of set with cfg, reading and writing
// through the brokers of busCfg. It checks the configuration and builds
// one detector Partition (so that options the rules cannot work with, or
// behaviours that fail to build, are reported now); it connects to
// nothing: Run does.
func New(cfg Config, busCfg bus.Config, set *sigma.Set, opts ...Option) (*Runner, error) {
	if set == nil {
		return nil, errors.New("new detector runner: no rule set")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new detector runner: %w", err)
	}
	if err := busCfg.Validate(); err != nil {
		return nil, fmt.Errorf("new detector runner: %w", err)
	}
	r := &Runner{cfg: cfg.withDefaults(), busCfg: busCfg, set: set, done: make(chan struct{}),
		active: map[partKey]*worker{}, warm: map[partKey]*worker{}}
	r.killCtx, r.killCancel = context.WithCancel(context.Background())
	for _, o := range opts {
		o(r)
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.behaviours == nil {
		r.behaviours = func() ([]detector.Behaviour, error) { return nil, nil }
	}
	_, bs, err := r.newPartition()
	if err != nil {
		return nil, fmt.Errorf("new detector runner: %w", err)
	}
	r.disps = newDispStore(r.cfg.MaxDispositions)
	r.m = newMetrics(r.reg, r)
	r.bstats = newBehaviourStats(r.m, bs)
	return r, nil
}

// newPartition builds an empty detector for one partition and returns it
// with its behaviours.
func (r *Runner) newPartition() (*detector.Partition, []detector.Behaviour, error) {
	bs, err := r.behaviours()
	if err != nil {
		return nil, nil, fmt.Errorf("behaviours: %w", err)
	}
	p, err := detector.New(r.set, r.cfg.Options, bs)
	return p, bs, err
}

// Ready reports whether the runner is healthy: nil unless Run ended with
// an error, or producing alerts has failed for more than
// detect.unready_after.
func (r *Runner) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runErr != nil {
		return fmt.Errorf("detector stopped: %w", r.runErr)
	}
	for _, w := range r.active {
		if since := w.gRetrySince.Load(); since > 0 {
			if d := time.Since(time.UnixMilli(since)); d > r.cfg.UnreadyAfter {
				return fmt.Errorf("detector: producing alerts to %s has failed for %s", r.cfg.AlertsTopic, d.Round(time.Second))
			}
		}
	}
	return nil
}

// Shutdown stops Run and waits until it returned, or until ctx ends. Each
// partition first produces the alerts of the events it was fed, writes a
// snapshot and commits (see the package doc). It is safe without Run,
// safe to call more than once and concurrently, and a Run after it
// returns ErrClosed.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	started, cancel := r.started, r.cancel
	r.mu.Unlock()
	if !started {
		return nil
	}
	if cancel != nil {
		cancel()
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("detector shutdown: %w", ctx.Err())
	}
}

// kill stops Run as a crash would, for tests: partitions stop without
// producing what they drained, without a final snapshot or commit.
func (r *Runner) kill() {
	r.killed.Store(true)
	r.killCancel()
	r.mu.Lock()
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// fail stops Run with err (the first one wins).
func (r *Runner) fail(err error) {
	r.mu.Lock()
	if r.fatal == nil {
		r.fatal = err
	}
	cancel := r.cancel
	r.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Run consumes, detects and produces until ctx ends or Shutdown is
// called, then returns nil. It returns an error only when it cannot go on
// (a client could not be built, a partition's detector could not be
// built). Kafka being unreachable is not an error: the group and the
// writers retry. Run may be called once.
func (r *Runner) Run(ctx context.Context) (err error) {
	r.mu.Lock()
	if r.started || r.closed {
		r.mu.Unlock()
		return ErrClosed
	}
	r.started = true
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	r.mu.Unlock()
	defer func() {
		cancel()
		r.killCancel()
		r.mu.Lock()
		if err == nil {
			err = r.fatal
		}
		r.runErr = err
		r.mu.Unlock()
		close(r.done)
	}()

	if r.client, err = bus.NewClient(r.busCfg); err != nil {
		return fmt.Errorf("detector: %w", err)
	}
	defer r.client.Close()
	if r.alerts, err = bus.NewWriter(r.busCfg, r.cfg.AlertsTopic, bus.WithLogger(r.log)); err != nil {
		return fmt.Errorf("detector: %w", err)
	}
	defer func() {
		if cerr := r.alerts.Close(); cerr != nil {
			r.log.Warn("closing the alerts writer failed", "err", cerr)
		}
	}()
	if r.state, err = newStateStore(r.busCfg, r.cfg.StateTopic, r.client, bus.WithLogger(r.log)); err != nil {
		return fmt.Errorf("detector: %w", err)
	}
	defer func() {
		if cerr := r.state.close(); cerr != nil {
			r.log.Warn("closing the state writer failed", "err", cerr)
		}
	}()
	r.ensureTopics(ctx)
	cg, err := bus.NewConsumerGroup(r.busCfg, r.cfg.Group, []string{r.cfg.AccessTopic, r.cfg.DeviceTopic}, bus.WithLogger(r.log))
	if err != nil {
		return fmt.Errorf("detector: %w", err)
	}
	for _, x := range r.cfg.Options.ExpiredExceptions(time.Now()) {
		r.log.Warn("exception expired: it no longer suppresses anything; remove or renew it",
			"rule", x.Rule, "reason", x.Reason, "author", x.Author, "expires", x.Expires)
	}
	r.log.Info("detector started", "group", r.cfg.Group, "topics", []string{r.cfg.AccessTopic, r.cfg.DeviceTopic},
		"alerts_topic", r.cfg.AlertsTopic, "state_topic", r.cfg.StateTopic, "rules", len(r.set.Rules),
		"correlations", len(r.set.Correlations))

	// Dispositions are read by every instance from the whole alerts
	// topic, until the group is left and the partitions are stopped.
	dctx, dcancel := context.WithCancel(context.WithoutCancel(ctx))
	var dwg sync.WaitGroup
	dwg.Go(func() { r.readDispositions(dctx) })
	defer func() {
		dcancel()
		dwg.Wait()
	}()

	var wg sync.WaitGroup
	for {
		gen, err := cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			// kafka-go waits bus.reader join backoff before it tries again.
			r.log.Warn("joining the consumer group failed; retrying", "group", r.cfg.Group, "err", err)
			continue
		}
		r.m.generations.Inc()
		r.startGeneration(ctx, gen, &wg)
	}
	// Close ends the generation and waits for its partitions (each
	// produces, snapshots and commits in the generation it belongs to);
	// then the member leaves the group.
	if err := cg.Close(); err != nil {
		r.log.Warn("leaving the consumer group failed", "err", err)
	}
	wg.Wait()
	r.mu.Lock()
	clear(r.warm)
	r.mu.Unlock()
	r.log.Info("detector stopped")
	return nil
}

// ensureTopics creates the topics the runner writes, with the state topic
// compacted, and warns when an existing state topic is not compacted.
// The event topics are the collector's; a failure is logged, not fatal
// (the writers report a missing topic).
func (r *Runner) ensureTopics(ctx context.Context) {
	spec := func(name, role string) bus.TopicSpec {
		d, _ := bus.LookupTopic(role)
		return bus.TopicSpec{Name: name, Partitions: d.Partitions, Key: d.Key, Configs: d.Configs}
	}
	tctx, cancel := context.WithTimeout(ctx, r.cfg.WriteTimeout)
	defer cancel()
	if err := bus.EnsureTopics(tctx, r.busCfg, spec(r.cfg.AlertsTopic, bus.TopicAlerts), spec(r.cfg.StateTopic, bus.TopicDetectorState)); err != nil {
		r.log.Warn("creating the alerts and state topics failed", "err", err)
		return
	}
	resp, err := r.client.DescribeConfigs(tctx, &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
		ResourceType: kafka.ResourceTypeTopic, ResourceName: r.cfg.StateTopic, ConfigNames: []string{"cleanup.policy"}}}})
	if err != nil || len(resp.Resources) == 0 || resp.Resources[0].Error != nil {
		return // not every broker answers; the check is advisory
	}
	for _, e := range resp.Resources[0].ConfigEntries {
		if e.ConfigName == "cleanup.policy" && !strings.Contains(e.ConfigValue, "compact") {
			r.log.Warn("the state topic is not compacted: the snapshots of partitions idle for longer than its retention will be deleted, and they will restart empty; set cleanup.policy=compact",
				"topic", r.cfg.StateTopic, "cleanup_policy", e.ConfigValue)
		}
	}
}

// startGeneration starts one worker per assigned partition, inside the
// generation (kafka-go waits for them before the next one).
func (r *Runner) startGeneration(ctx context.Context, gen *kafka.Generation, wg *sync.WaitGroup) {
	assigned := map[partKey]int64{}
	for topic, pas := range gen.Assignments {
		for _, pa := range pas {
			assigned[partKey{topic, pa.ID}] = pa.Offset
		}
	}
	r.mu.Lock()
	for k := range r.warm {
		if _, ok := assigned[k]; !ok {
			delete(r.warm, k) // another member has it now
		}
	}
	r.mu.Unlock()
	r.log.Info("partitions assigned", "generation", gen.ID, "partitions", len(assigned))
	for k, start := range assigned {
		wg.Add(1)
		gen.Start(func(gctx context.Context) {
			defer wg.Done()
			r.runPartition(ctx, gctx, gen, k, start)
		})
	}
}

// register and unregister keep the set of workers the gauges read.
func (r *Runner) register(w *worker) {
	r.mu.Lock()
	r.active[w.key] = w
	r.mu.Unlock()
}

func (r *Runner) unregister(w *worker, keepWarm bool) {
	r.mu.Lock()
	delete(r.active, w.key)
	if keepWarm {
		r.warm[w.key] = w
	}
	r.mu.Unlock()
}

// takeWarm returns the worker kept from the last generation for k, if any.
func (r *Runner) takeWarm(k partKey) *worker {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.warm[k]
	delete(r.warm, k)
	return w
}

// committed returns the group's committed offset of k (-1 for none) and
// its metadata.
func (r *Runner) committed(ctx context.Context, k partKey) (int64, string, error) {
	resp, err := r.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: r.cfg.Group,
		Topics: map[string][]int{k.topic: {k.partition}}})
	if err != nil {
		return 0, "", fmt.Errorf("fetch the committed offset of %s[%d]: %w", k.topic, k.partition, err)
	}
	if resp.Error != nil {
		return 0, "", fmt.Errorf("fetch the committed offset of %s[%d]: %w", k.topic, k.partition, resp.Error)
	}
	for _, p := range resp.Topics[k.topic] {
		if p.Partition == k.partition {
			if p.Error != nil {
				return 0, "", fmt.Errorf("fetch the committed offset of %s[%d]: %w", k.topic, k.partition, p.Error)
			}
			return p.CommittedOffset, p.Metadata, nil
		}
	}
	return -1, "", nil
}

// commit commits offset for k in generation gen with the pointer as
// metadata.
func (r *Runner) commit(ctx context.Context, gen *kafka.Generation, k partKey, offset int64, ptr pointer) error {
	resp, err := r.client.OffsetCommit(ctx, &kafka.OffsetCommitRequest{
		GroupID: gen.GroupID, GenerationID: int(gen.ID), MemberID: gen.MemberID,
		Topics: map[string][]kafka.OffsetCommit{k.topic: {{Partition: k.partition, Offset: offset, Metadata: ptr.String()}}},
	})
	if err != nil {
		return err
	}
	for _, p := range resp.Topics[k.topic] {
		if p.Partition == k.partition && p.Error != nil {
			return p.Error
		}
	}
	return nil
}

// staleGeneration reports whether err says the generation is over (a
// rebalance started or this member was dropped): expected, not alarming.
func staleGeneration(err error) bool {
	return errors.Is(err, kafka.IllegalGeneration) || errors.Is(err, kafka.RebalanceInProgress) ||
		errors.Is(err, kafka.UnknownMemberId) || errors.Is(err, kafka.FencedInstanceID)
}
