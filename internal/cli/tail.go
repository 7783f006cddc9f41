package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
)

func tailCommand() *command {
	var (
		from string
		max  int
		idle time.Duration
		meta bool
	)
	return &command{
		name:    "tail",
		summary: "Print the records of a topic as JSON lines",
		usage:   "[flags] TOPIC",
		help: `Prints the records of a Kafka topic, one JSON document a line, to stdout.
Records whose value is JSON are printed compacted as they are; any other value
is printed as a JSON string. With --meta each line is an object with topic,
partition, offset, time, key and value.

It reads every partition directly, outside any consumer group, and commits
nothing, so it never disturbs the stages. Without --brokers (or bus.brokers) it
reads the embedded broker of 'vigil up' on 127.0.0.1:9092.

Examples:
  vigil tail vigil.access.v1                      # follow new records
  vigil tail --from first --idle 2s vigil.alerts.v1  # dump and stop when quiet
  vigil tail --from first --max 10 --meta vigil.deadletter.v1`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("brokers", "bus.brokers", "Kafka bootstrap `brokers`, comma-separated (default the embedded broker, 127.0.0.1:9092)")
			fs.fs.StringVar(&from, "from", "last", "where to start in each partition: `first` (everything retained) or last (new records only)")
			fs.fs.IntVar(&max, "max", 0, "stop after `N` records (0: no limit)")
			fs.fs.DurationVar(&idle, "idle", 0, "stop after no record arrived for this `duration` (0: follow until interrupted)")
			fs.fs.BoolVar(&meta, "meta", false, "print topic, partition, offset, time and key with each value")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) != 1 {
				return c.fail(ExitUsage, "takes exactly one TOPIC, got %d arguments (see vigil tail --help)", len(c.args))
			}
			var offset int64
			switch from {
			case "first", "beginning":
				offset = kafka.FirstOffset
			case "last", "end":
				offset = kafka.LastOffset
			default:
				return c.fail(ExitUsage, "--from: %q is not one of first|last", from)
			}
			if max < 0 {
				return c.fail(ExitUsage, "--max: must be ≥ 0, got %d", max)
			}
			if idle < 0 {
				return c.fail(ExitUsage, "--idle: must be ≥ 0, got %s", idle)
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			if len(cfg.Bus.Brokers) == 0 {
				cfg.Bus.Brokers = []string{bus.DefaultEmbeddedListen}
			}
			if ps := validateBus(cfg.Bus); len(ps) > 0 {
				for _, p := range ps {
					fmt.Fprintf(c.stderr(), "vigil tail: invalid configuration: %s\n", p)
				}
				return ExitUsage
			}
			t := tailer{cfg: cfg.Bus, topic: c.args[0], offset: offset, max: max, idle: idle, meta: meta, out: c.stdout()}
			if err := t.run(ctx); err != nil {
				return c.fail(ExitFailure, "%v", err)
			}
			return ExitOK
		},
	}
}

type tailer struct {
	cfg    bus.Config
	topic  string
	offset int64
	max    int
	idle   time.Duration
	meta   bool
	out    io.Writer
}

type tailRecord struct {
	Topic     string          `json:"topic"`
	Partition int             `json:"partition"`
	Offset    int64           `json:"offset"`
	Time      time.Time       `json:"time"`
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
}

func (t *tailer) run(ctx context.Context) error {
	lookup, cancelLookup := context.WithTimeout(ctx, 15*time.Second)
	parts, err := bus.Partitions(lookup, t.cfg, t.topic)
	cancelLookup()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	msgs := make(chan kafka.Message)
	errc := make(chan error, len(parts))
	var wg sync.WaitGroup
	for _, p := range parts {
		r, err := bus.NewPartitionReader(t.cfg, t.topic, p, t.offset)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errc <- fmt.Errorf("read %s[%d]: %w", t.topic, p, err)
					}
					return
				}
				select {
				case msgs <- m:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	defer wg.Wait()
	defer cancel()

	var idleC <-chan time.Time
	var timer *time.Timer
	if t.idle > 0 {
		timer = time.NewTimer(t.idle)
		defer timer.Stop()
		idleC = timer.C
	}
	n := 0
	for {
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.Canceled) {
				return nil // interrupted: a normal end for a follower
			}
			return ctx.Err()
		case err := <-errc:
			return err
		case <-idleC:
			return nil
		case m := <-msgs:
			if err := t.print(m); err != nil {
				return err
			}
			n++
			if t.max > 0 && n >= t.max {
				return nil
			}
			if timer != nil {
				timer.Reset(t.idle)
			}
		}
	}
}

func (t *tailer) print(m kafka.Message) error {
	value := jsonValue(m.Value)
	line := value
	if t.meta {
		b, err := json.Marshal(tailRecord{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Time: m.Time.UTC(), Key: string(m.Key), Value: value})
		if err != nil {
			return fmt.Errorf("encode record %s[%d]@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		line = b
	}
	line = append(line, '\n')
	if _, err := t.out.Write(line); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// jsonValue returns v compacted when it is JSON, else v as a JSON string.
func jsonValue(v []byte) json.RawMessage {
	var buf bytes.Buffer
	if json.Valid(v) && json.Compact(&buf, v) == nil {
		return buf.Bytes()
	}
	b, _ := json.Marshal(string(v))
	return b
}
