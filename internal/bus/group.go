package bus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// NewConsumerGroup returns a kafka-go consumer group over topics, for a
// stage that manages its partitions itself: ConsumerGroup.Next returns
// each generation with the partitions assigned to this member and their
// committed offsets (or kafka.FirstOffset / kafka.LastOffset, from
// cfg.Reader.StartOffset, where none is committed), and the stage reads
// each partition from wherever it chooses (NewPartitionReader) and commits
// through the generation or a Client. The session, heartbeat and
// rebalance timeouts, the balancers, the join backoff and partition
// watching are those of NewGroupReader, and the connections use the
// client id, SASL and TLS of cfg. It connects to nothing until Next is
// called. Close the group when done: it leaves the group.
func NewConsumerGroup(cfg Config, group string, topics []string, opts ...Option) (*kafka.ConsumerGroup, error) {
	if group == "" || len(topics) == 0 {
		return nil, errors.New("new consumer group: group and topics are required")
	}
	where := fmt.Sprintf("new consumer group %s of %s", group, strings.Join(topics, ","))
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o := applyOptions(opts)
	info, errLog := kafkaLoggers(o.logger, "group", group)
	start := kafka.FirstOffset
	if cfg.Reader.StartOffset == StartLast {
		start = kafka.LastOffset
	}
	gc := kafka.ConsumerGroupConfig{
		ID:                     group,
		Brokers:                cfg.Brokers,
		Dialer:                 newDialer(cfg, sec),
		Topics:                 slices.Clone(topics),
		GroupBalancers:         []kafka.GroupBalancer{kafka.RangeGroupBalancer{}, kafka.RoundRobinGroupBalancer{}},
		HeartbeatInterval:      cfg.Reader.HeartbeatInterval,
		SessionTimeout:         cfg.Reader.SessionTimeout,
		RebalanceTimeout:       cfg.Reader.RebalanceTimeout,
		JoinGroupBackoff:       time.Second,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 5 * time.Second,
		StartOffset:            start,
		Logger:                 info,
		ErrorLogger:            errLog,
	}
	cg, err := kafka.NewConsumerGroup(gc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return cg, nil
}

// Client is a kafka-go Client (its methods are promoted) with the client
// id, SASL and TLS of a Config, for requests that have no helper here:
// offset commits with metadata, offset fetches, topic configuration.
// Requests to a group are routed to its coordinator. Close it when done.
type Client struct {
	*kafka.Client
	transport *kafka.Transport
}

// NewClient returns a Client of the brokers of cfg. It connects to
// nothing until the first request.
func NewClient(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new kafka client: %w", err)
	}
	cfg = cfg.withDefaults()
	sec, err := newSecurity(cfg)
	if err != nil {
		return nil, fmt.Errorf("new kafka client of %s: %w", strings.Join(cfg.Brokers, ","), err)
	}
	tr := newTransport(cfg, sec)
	return &Client{Client: &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}, transport: tr}, nil
}

// Close closes the client's connections and stops its metadata goroutine.
// It is safe to call more than once.
func (c *Client) Close() {
	c.transport.CloseIdleConnections()
}
