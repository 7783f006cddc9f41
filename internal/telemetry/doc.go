// Package telemetry holds what every stage shares for observing itself: the
// structured logger (log/slog), the Prometheus registry, and the HTTP
// handlers for /metrics and /healthz.
//
// # Logs
//
// NewLogger builds a *slog.Logger writing text (for a terminal) or JSON (for
// a log shipper) at a configured level. Messages are constant strings; the
// variable parts are key/value attributes. Secrets and personal identifiers
// are never logged: configuration types that hold secrets implement
// slog.LogValuer and redact themselves.
//
// # Metrics
//
// NewRegistry returns a registry with the Go runtime and process collectors.
// Each package builds its own metrics struct from a prometheus.Registerer
// (nil means do not register). Names follow vigil_<stage>_<what>_<unit>.
// This package registers:
//
//	vigil_build_info{version,revision,goversion}  gauge, always 1
//	vigil_health_check_up{check}                  gauge, 1 when the last /healthz check passed
//
// # Health
//
// Health runs named checks (a broker ping, a spool that accepts writes) with a
// deadline and answers /healthz with 200 and a JSON body when all pass, 503
// naming each failing check otherwise.
package telemetry
