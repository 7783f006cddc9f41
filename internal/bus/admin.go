package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/segmentio/kafka-go"
)

// EnsureTopics creates the given topics, or every Vigil topic (Topics) when
// none is given. A topic's partition count is cfg.Partitions[name] when set,
// else its TopicSpec.Partitions, else its default from Topics, else 1; its
// replication factor is cfg.ReplicationFactor (0: the broker's default).
//
// It is idempotent: a topic that already exists is left as it is (its
// partition count is not changed). Any other failure is reported per topic,
// all of them joined. When it returns nil every topic is in the cluster
// metadata.
func EnsureTopics(ctx context.Context, cfg Config, topics ...TopicSpec) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("ensure topics: %w", err)
	}
	cfg = cfg.withDefaults()
	brokers := strings.Join(cfg.Brokers, ",")
	if len(topics) == 0 {
		topics = Topics()
	}

	// One request, topics deduplicated (Kafka rejects a request that names
	// a topic twice), in the given order.
	var (
		req   kafka.CreateTopicsRequest
		names []string
		seen  = map[string]int{}
	)
	for _, t := range topics {
		if t.Name == "" {
			return errors.New("ensure topics: a topic has no name")
		}
		tc := kafka.TopicConfig{
			Topic:             t.Name,
			NumPartitions:     partitionsFor(cfg, t),
			ReplicationFactor: cfg.ReplicationFactor,
		}
		if tc.ReplicationFactor == 0 {
			tc.ReplicationFactor = -1 // the broker's default (KIP-464)
		}
		for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: t.Configs[k]})
		}
		if i, ok := seen[t.Name]; ok {
			req.Topics[i] = tc
			continue
		}
		seen[t.Name] = len(req.Topics)
		req.Topics = append(req.Topics, tc)
		names = append(names, t.Name)
	}

	sec, err := newSecurity(cfg)
	if err != nil {
		return fmt.Errorf("ensure topics on %s: %w", brokers, err)
	}
	tr := newTransport(cfg, sec)
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}

	// kafka-go sends CreateTopics to the controller it learnt from metadata;
	// if that first metadata request failed (bad credentials, TLS), it
	// reports "Broker Not Available" instead of the cause. Ask for the
	// metadata first to surface the real error.
	if _, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: names}); err != nil {
		return fmt.Errorf("create topics %s on %s: %w%s", strings.Join(names, ","), brokers, err, eofHint(cfg, err))
	}
	resp, err := client.CreateTopics(ctx, &req)
	if err != nil {
		return fmt.Errorf("create topics %s on %s: %w%s", strings.Join(names, ","), brokers, err, eofHint(cfg, err))
	}
	var errs []error
	for _, name := range names {
		e, ok := resp.Errors[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("create topic %s on %s: no answer for the topic", name, brokers))
		case e == nil, errors.Is(e, kafka.TopicAlreadyExists):
		default:
			errs = append(errs, fmt.Errorf("create topic %s on %s: %w", name, brokers, e))
		}
	}
	return errors.Join(errs...)
}

// partitionsFor returns the partition count EnsureTopics creates t with.
func partitionsFor(cfg Config, t TopicSpec) int {
	if n := cfg.Partitions[t.Name]; n > 0 {
		return n
	}
	if t.Partitions > 0 {
		return t.Partitions
	}
	if d, ok := LookupTopic(t.Name); ok {
		return d.Partitions
	}
	return 1
}

// Ping asks the brokers for cluster metadata over a fresh connection (with
// SASL and TLS as configured), so it fails when no broker can be reached or
// authentication fails. The error names the brokers. It is meant for
// /healthz and for start-up checks; bound it with a ctx deadline.
func Ping(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("ping kafka: %w", err)
	}
	cfg = cfg.withDefaults()
	brokers := strings.Join(cfg.Brokers, ",")
	sec, err := newSecurity(cfg)
	if err != nil {
		return fmt.Errorf("ping kafka brokers %s: %w", brokers, err)
	}
	// A new transport each time: a transport answers metadata requests from
	// its cache, which would hide a broker that went away.
	tr := newTransport(cfg, sec)
	defer tr.CloseIdleConnections()
	client := &kafka.Client{Addr: kafka.TCP(cfg.Brokers...), Transport: tr}
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("ping kafka brokers %s: %w%s", brokers, err, eofHint(cfg, err))
	}
	if len(resp.Brokers) == 0 {
		return fmt.Errorf("ping kafka brokers %s: metadata lists no broker", brokers)
	}
	return nil
}

// eofHint explains a connection the broker closed without an answer, which
// is how some brokers (kfake among them) and listeners of another protocol
// (SASL vs plaintext, TLS vs plaintext) refuse a client.
func eofHint(cfg Config, err error) string {
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return ""
	}
	if cfg.SASL.Mechanism != "" {
		return fmt.Sprintf(" (the broker closed the connection: check the credentials of bus.sasl.username %q and that the listener expects SASL %s)", cfg.SASL.Username, cfg.SASL.Mechanism)
	}
	return " (the broker closed the connection: does the listener expect SASL or TLS? see bus.sasl and bus.tls)"
}
