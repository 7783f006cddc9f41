package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go runtime and process collectors
// and vigil_build_info.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	bi := Build()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vigil_build_info",
		Help:        "Build of the running binary; always 1.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.GoVersion},
	})
	g.Set(1)
	reg.MustRegister(g)
	return reg
}

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
}

// Version is set at link time with -ldflags "-X .../telemetry.Version=v1.2.3".
// Empty means the module version from the build info, or "devel".
var Version string

// Build reads the version and VCS revision from the binary's build info.
func Build() BuildInfo {
	bi := BuildInfo{Version: Version, Revision: "unknown", GoVersion: "unknown"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if bi.Version == "" {
			bi.Version = "devel"
		}
		return bi
	}
	bi.GoVersion = info.GoVersion
	if bi.Version == "" {
		bi.Version = info.Main.Version
	}
	if bi.Version == "" || bi.Version == "(devel)" {
		bi.Version = "devel"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

// Check is one named health check. Fn must honour ctx.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Health answers /healthz by running its checks concurrently.
type Health struct {
	checks  []Check
	timeout time.Duration
	up      *prometheus.GaugeVec
}

// NewHealth returns a Health running checks with a per-request timeout
// (zero means 2s). reg may be nil.
func NewHealth(reg prometheus.Registerer, timeout time.Duration, checks ...Check) *Health {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	h := &Health{checks: checks, timeout: timeout}
	h.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "vigil_health_check_up",
		Help: "1 when the named health check passed the last time /healthz ran it, else 0.",
	}, []string{"check"})
	if reg != nil {
		reg.MustRegister(h.up)
	}
	return h
}

// Result is the outcome of one check.
type Result struct {
	Name  string `json:"name"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Run runs every check and reports whether all passed.
func (h *Health) Run(ctx context.Context) ([]Result, bool) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	res := make([]Result, len(h.checks))
	var wg sync.WaitGroup
	for i, c := range h.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Fn(ctx)
			if err == nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
				err = ctx.Err()
			}
			res[i] = Result{Name: c.Name, OK: err == nil}
			if err != nil {
				res[i].Error = err.Error()
			}
		}()
	}
	wg.Wait()
	sort.Slice(res, func(i, j int) bool { return res[i].Name < res[j].Name })
	all := true
	for _, r := range res {
		v := 0.0
		if r.OK {
			v = 1
		} else {
			all = false
		}
		h.up.WithLabelValues(r.Name).Set(v)
	}
	return res, all
}

// ServeHTTP answers 200 {"status":"ok",...} or 503 {"status":"unavailable",...}.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	res, ok := h.Run(r.Context())
	body := struct {
		Status string   `json:"status"`
		Checks []Result `json:"checks"`
	}{Status: "ok", Checks: res}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		body.Status = "unavailable"
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// MetricsHandler serves the registry in the Prometheus exposition formats.
func MetricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, EnableOpenMetrics: true})
}
