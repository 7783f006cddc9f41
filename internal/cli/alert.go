package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/event"
)

// brokerAddrFile is the file in the data folder of `vigil up` that holds
// the address of its embedded broker while it runs.
const brokerAddrFile = "broker.addr"

// envOperator names the operator recorded as the author of a decision
// when --by is not given.
const envOperator = "VIGIL_OPERATOR"

// closeAs maps the values of --as to the statuses they set.
var closeAs = map[string]event.AlertStatus{
	"false_positive": event.AlertClosedFalsePositive,
	"authorized":     event.AlertClosedAuthorized,
	"duplicate":      event.AlertClosedDuplicate,
}

// errRecordNotFound says that a topic holds no record with the id asked.
var errRecordNotFound = errors.New("not found")

func alertCommand() *command {
	var (
		as, reason, by, data string
		timeout              time.Duration
	)
	return &command{
		name:    "alert",
		summary: "Close an alert as a false positive, authorised or duplicate; show an alert",
		usage:   "close ALERT_ID --as false_positive|authorized|duplicate --reason TEXT [--by NAME] | show ALERT_ID  [flags]",
		help: `vigil alert close ALERT_ID --as KIND --reason TEXT [--by NAME]
    Records a review decision on an alert. KIND is false_positive (the rule
    was wrong), authorized (real, but the access was authorised) or
    duplicate (another alert covers it). --reason says why, in words a
    reviewer will understand later (no personal data: use tokens); --by
    names who decided (default $VIGIL_OPERATOR; use an operator handle,
    not a personal name). Both are required.

    It finds the latest record of the alert on the alerts topic and
    publishes it again with status closed_<KIND>, status_reason and
    status_by, keyed like the detector's records. The detector keeps the
    decision: later events that fold into the alert do not re-open it, and
    the decision survives restarts (detector/runner package doc,
    "Dispositions"). It refuses an alert that is not on the topic, and one
    that already has that status.

vigil alert show ALERT_ID
    Prints the latest record of the alert as JSON.

Where the alerts are: bus.brokers (--brokers, VIGIL_BUS_BROKERS, or the
configuration file, as for 'vigil detect') and detect.alerts_topic
(default vigil.alerts.v1). With --data DIR and no brokers configured, the
embedded broker of the 'vigil up --data DIR' that is running (its address
is in DIR/broker.addr); with neither, the embedded broker on
127.0.0.1:9092. The whole topic is scanned up to its current end, bounded
by --timeout.

Examples:
  vigil alert show 9b7a7abc1eb2d8d2d1313b0afb48358c --data ./vigil-data
  VIGIL_OPERATOR=analyst-7 vigil alert close 9b7a7abc1eb2d8d2d1313b0afb48358c \
    --as false_positive --reason "ward rounds: the nurse reads every patient of her ward"
  vigil alert close 3f0c… --as authorized --reason "export approved in ticket SEC-1234" \
    --by analyst-2 --brokers kafka-1:9092

Exit status: 0 done, 1 the alert was not found or already has that status
(nothing published) or Kafka failed, 2 usage or configuration error.`,
		flags: func(fs *flagSet) {
			fs.configFlags()
			fs.key("brokers", "bus.brokers", "Kafka bootstrap `brokers`, comma-separated")
			fs.key("alerts-topic", "detect.alerts_topic", "the alerts `topic`")
			fs.fs.StringVar(&data, "data", "", "data `folder` of a running 'vigil up': use its embedded broker")
			fs.fs.StringVar(&as, "as", "", "close: what the alert is, `KIND`: false_positive, authorized or duplicate")
			fs.fs.StringVar(&reason, "reason", "", "close: why, in one sentence (`TEXT`, required)")
			fs.fs.StringVar(&by, "by", "", "close: who decided (`NAME`, default $VIGIL_OPERATOR)")
			fs.fs.DurationVar(&timeout, "timeout", time.Minute, "bound on finding the alert and publishing the decision (`duration`)")
		},
		run: func(ctx context.Context, c *invocation) int {
			if len(c.args) == 0 {
				return c.fail(ExitUsage, "want an action, close or show (see vigil alert --help)")
			}
			action, args := c.args[0], c.args[1:]
			if action != "close" && action != "show" {
				return c.fail(ExitUsage, "unknown action %q: want close or show", action)
			}
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return c.fail(ExitUsage, "%s takes exactly one ALERT_ID, got %d arguments", action, len(args))
			}
			id := args[0]
			if timeout <= 0 {
				return c.fail(ExitUsage, "--timeout: must be > 0, got %s", timeout)
			}
			var status event.AlertStatus
			switch action {
			case "show":
				if as != "" || reason != "" || by != "" {
					return c.fail(ExitUsage, "--as, --reason and --by belong to the close action")
				}
			case "close":
				var ok bool
				if status, ok = closeAs[strings.TrimPrefix(as, "closed_")]; !ok {
					if as == "" {
						return c.fail(ExitUsage, "close needs --as false_positive, authorized or duplicate")
					}
					return c.fail(ExitUsage, "--as: %q is not one of false_positive|authorized|duplicate", as)
				}
				if strings.TrimSpace(reason) == "" {
					return c.fail(ExitUsage, "close needs --reason TEXT: why the alert is closed")
				}
				if by == "" {
					by = lookupEnv(c.env.Environ, envOperator)
				}
				if strings.TrimSpace(by) == "" {
					return c.fail(ExitUsage, "close needs --by NAME or %s: who decided", envOperator)
				}
			}
			cfg := defaultConfig()
			if !c.fs.load(c, cfg) {
				return ExitUsage
			}
			// The detect section names the alerts topic: check it as
			// 'vigil detect' does.
			if ps := cfg.Detect.problems(); len(ps) > 0 {
				fmt.Fprintf(c.stderr(), "vigil alert: %v\n", &config.Error{Problems: ps})
				return ExitUsage
			}
			if len(cfg.Bus.Brokers) == 0 {
				addr, err := embeddedBroker(data)
				if err != nil {
					return c.fail(ExitUsage, "%v", err)
				}
				cfg.Bus.Brokers = []string{addr}
			}
			if ps := validateBus(cfg.Bus); len(ps) > 0 {
				for _, p := range ps {
					fmt.Fprintf(c.stderr(), "vigil alert: invalid configuration: %s\n", p)
				}
				return ExitUsage
			}
			topic := cfg.Detect.AlertsTopic
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			latest, err := findAlert(ctx, cfg.Bus, topic, id)
			if err != nil {
				return c.fail(ExitFailure, "alert %s: %v", id, err)
			}
			if action == "show" {
				b, err := json.MarshalIndent(latest, "", "  ")
				if err != nil {
					return c.fail(ExitFailure, "encode alert %s: %v", id, err)
				}
				fmt.Fprintf(c.stdout(), "%s\n", b)
				return ExitOK
			}
			if latest.Status == status {
				return c.fail(ExitFailure, "alert %s is already %s (reason %q, by %q); nothing published",
					id, status, latest.StatusReason, latest.StatusBy)
			}
			rec := latest
			rec.Status, rec.StatusReason, rec.StatusBy = status, strings.TrimSpace(reason), strings.TrimSpace(by)
			if ps := rec.StatusProblems(); len(ps) > 0 {
				return c.fail(ExitUsage, "alert %s: %v", id, ps)
			}
			if err := publishAlert(ctx, cfg.Bus, topic, &rec); err != nil {
				return c.fail(ExitFailure, "alert %s: %v", id, err)
			}
			fmt.Fprintf(c.stdout(), "Alert %s (%s, %s) closed as %s by %s; was %s.\nPublished to %s: the detector keeps the decision for later updates of the alert.\n",
				id, rec.RuleID, rec.GroupKey, status, rec.StatusBy, latest.Status, topic)
			return ExitOK
		},
	}
}

// lookupEnv returns the value of key in environ, or "".
func lookupEnv(environ []string, key string) string {
	v := ""
	for _, kv := range environ {
		if s, ok := strings.CutPrefix(kv, key+"="); ok {
			v = s
		}
	}
	return v
}

// embeddedBroker returns the address of the embedded broker of the
// `vigil up` running on data, or the default embedded address without
// data.
func embeddedBroker(data string) (string, error) {
	if data == "" {
		return bus.DefaultEmbeddedListen, nil
	}
	path := filepath.Join(data, brokerAddrFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("--data %s: no %s there: is 'vigil up --data %s' running? (or give --brokers)", data, brokerAddrFile, data)
	}
	if err != nil {
		return "", fmt.Errorf("--data %s: %w", data, err)
	}
	addr := strings.TrimSpace(string(b))
	if addr == "" {
		return "", fmt.Errorf("--data %s: %s is empty", data, path)
	}
	return addr, nil
}

// findAlert returns the latest record of alert id on topic.
func findAlert(ctx context.Context, cfg bus.Config, topic, id string) (event.Alert, error) {
	a, err := findLatest(ctx, cfg, topic, id, func(a *event.Alert) string { return a.AlertID })
	if errors.Is(err, errRecordNotFound) {
		return a, fmt.Errorf("%w: check the id with 'vigil tail --from first --idle 2s %s'", err, topic)
	}
	return a, err
}

// findLatest returns the latest record whose id (idOf)
// is id, reading every partition of topic up to its end in parallel.
// Records that do not contain the id's JSON string are skipped unread.
func findLatest[T any](ctx context.Context, cfg bus.Config, topic, id string, idOf func(*T) string) (T, error) {
	var zero T
	ends, err := bus.Ends(ctx, cfg, topic)
	if err != nil {
		return zero, err
	}
	type found struct {
		v    T
		at   time.Time
		part int
		off  int64
		ok   bool
	}
	var mu sync.Mutex
	var best found
	errs := make(chan error, len(ends))
	needle := []byte(`"` + id + `"`)
	var wg sync.WaitGroup
	for p, b := range ends {
		wg.Go(func() {
			errs <- bus.ScanPartition(ctx, cfg, topic, p, b[0], b[1], func(m *kafka.Message) error {
				if !bytes.Contains(m.Value, needle) {
					return nil
				}
				var v T
				if json.Unmarshal(m.Value, &v) == nil && idOf(&v) == id {
					mu.Lock()
					// One id is one key, so its records share a partition
					// and the larger offset is the later state; the record
					// time decides only across partitions.
					if !best.ok || (m.Partition == best.part && m.Offset > best.off) || (m.Partition != best.part && m.Time.After(best.at)) {
						best = found{v: v, at: m.Time, part: m.Partition, off: m.Offset, ok: true}
					}
					mu.Unlock()
				}
				return nil
			})
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	if err := errors.Join(all...); err != nil {
		return zero, err
	}
	if !best.ok {
		return zero, fmt.Errorf("%w on %s (%d partitions read to their end)", errRecordNotFound, topic, len(ends))
	}
	return best.v, nil
}

// publishAlert produces a to topic keyed by its group key, as the
// detector does, and waits for the acknowledgement (acks=all).
func publishAlert(ctx context.Context, cfg bus.Config, topic string, a *event.Alert) error {
	v, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	w, err := bus.NewWriter(cfg, topic)
	if err != nil {
		return err
	}
	werr := w.WriteMessages(ctx, kafka.Message{Key: []byte(a.GroupKey), Value: v})
	if cerr := w.Close(); werr == nil && cerr != nil {
		werr = cerr
	}
	return werr
}
