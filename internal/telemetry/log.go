package telemetry

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/vigil-audit/vigil/internal/config"
)

// LogConfig selects the level and format of the logs.
type LogConfig struct {
	// Level is debug, info, warn or error. Empty means info.
	Level string `yaml:"level" doc:"debug, info, warn or error (default info)"`
	// Format is text or json. Empty means text.
	Format string `yaml:"format" doc:"text or json (default text)"`
}

// Validate implements config.Validator.
func (c LogConfig) Validate() []config.Problem {
	var ps []config.Problem
	if _, err := parseLevel(c.Level); err != nil {
		ps = append(ps, config.Problem{Key: "level", Reason: err.Error()})
	}
	switch strings.ToLower(c.Format) {
	case "", "text", "json":
	default:
		ps = append(ps, config.Problem{Key: "format", Reason: fmt.Sprintf("%q is not one of text|json", c.Format)})
	}
	return ps
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "", "info":
		return slog.LevelInfo, nil
	case "debug":
		return slog.LevelDebug, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not one of debug|info|warn|error", s)
}

// NewLogger returns a logger writing to w as c says. A nil w discards.
func NewLogger(c LogConfig, w io.Writer) (*slog.Logger, error) {
	if w == nil {
		return slog.New(slog.DiscardHandler), nil
	}
	lvl, err := parseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(c.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log.format: %q is not one of text|json", c.Format)
}

// OrDiscard returns l, or a logger that discards everything when l is nil.
func OrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
