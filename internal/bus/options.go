package bus

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/segmentio/kafka-go"
)

// Option changes how NewWriter and NewGroupReader build their client.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger sends the kafka-go client's own messages to l: its errors (a
// failed commit, a broker that went away and is retried) at warn, its
// progress (group joins, assignments) at debug. Nil means discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

func applyOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = discardLogger()
	}
	return o
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// kafkaLoggers bridges kafka-go's printf loggers to slog, with a constant
// message and the formatted text under "detail". It returns nil loggers when
// the level is disabled, so kafka-go skips formatting altogether.
func kafkaLoggers(l *slog.Logger, attrs ...any) (info, errs kafka.Logger) {
	l = l.With(attrs...)
	bridge := func(level slog.Level) kafka.Logger {
		if !l.Enabled(context.Background(), level) {
			return nil
		}
		return kafka.LoggerFunc(func(format string, args ...any) {
			l.Log(context.Background(), level, "kafka client", "detail", fmt.Sprintf(format, args...))
		})
	}
	return bridge(slog.LevelDebug), bridge(slog.LevelWarn)
}
