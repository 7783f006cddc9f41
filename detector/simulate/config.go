package simulate

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
)

// Kind is the kind of a labelled incident.
type Kind string

// Incident kinds. Package doc and docs/SIMULATOR.md describe how each is
// generated and what a detector should see.
const (
	KindVIPSnooping          Kind = "vip_snooping"                    // staff without a relationship read a VIP's record
	KindBulkExport           Kind = "bulk_export"                     // export/download of many records or subjects
	KindOffHoursBrowsing     Kind = "off_hours_browsing"              // a day-shift actor reads sensitive data at night
	KindNoRelationshipAccess Kind = "no_relationship_access"          // health/prescription/biometric read, relationship false, no break-glass
	KindDeniedBurst          Kind = "denied_burst"                    // many denied accesses within minutes
	KindCompromisedAccount   Kind = "compromised_account"             // impossible travel, new device and IP
	KindDeviceFarm           Kind = "device_farm"                     // one device, many accounts
	KindEmulatorRealname     Kind = "emulator_realname"               // emulator or hook framework during real-name or face checks
	KindDepartingExfil       Kind = "departing_employee_exfiltration" // an actor on notice reads far more subjects than usual
	KindDormantAccount       Kind = "dormant_account"                 // an account idle for weeks wakes and reads sensitive records in bulk
)

var kinds = []Kind{KindVIPSnooping, KindBulkExport, KindOffHoursBrowsing, KindNoRelationshipAccess,
	KindDeniedBurst, KindCompromisedAccount, KindDeviceFarm, KindEmulatorRealname, KindDepartingExfil, KindDormantAccount}

// Kinds lists every incident kind in a fixed order.
func Kinds() []Kind { return slices.Clone(kinds) }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { return slices.Contains(kinds, k) }

// Stream says which event stream an incident of the kind is in: "access"
// (vigil.access.v1) or "device" (vigil.device.v1).
func (k Kind) Stream() string {
	if k == KindDeviceFarm || k == KindEmulatorRealname {
		return StreamDevice
	}
	return StreamAccess
}

// Event streams, as Label.Stream names them.
const (
	StreamAccess = "access"
	StreamDevice = "device"
)

// ParseKinds parses a comma-separated list of kinds; "all" or "" is every
// kind. Unknown names are an error that lists the valid ones.
func ParseKinds(s string) ([]Kind, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return Kinds(), nil
	}
	var out []Kind
	var bad []string
	for _, part := range strings.Split(s, ",") {
		k := Kind(strings.TrimSpace(part))
		switch {
		case !k.Valid():
			bad = append(bad, fmt.Sprintf("%q", string(k)))
		case !slices.Contains(out, k):
			out = append(out, k)
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown incident kind %s: want all or a comma-separated list of %s", strings.Join(bad, ", "), kindNames())
	}
	return out, nil
}

func kindNames() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Defaults of Config; New applies them to zero fields.
const (
	// DefaultRate is the mean background rate, events per second.
	DefaultRate = 20.0
	// DefaultOrgs is the number of tenants.
	DefaultOrgs = 4
	// MaxOrgs is the largest number of tenants.
	MaxOrgs = 32
	// DefaultDuration is the simulated time generated when Duration is zero
	// in simulated mode.
	DefaultDuration = 24 * time.Hour
	// DefaultIncidentsPerHour is how many incidents of each enabled kind
	// are injected per hour when IncidentsPerHour is zero.
	DefaultIncidentsPerHour = 1.0
	// MaxRate bounds Rate: the population grows with the rate (about 1.3
	// MB of memory per event/s), and at this rate it holds some 280 000
	// staff and 2.8 million patients.
	MaxRate = 500.0
)

// DefaultStart is where the simulated clock starts when Config.Start is
// zero: Monday 2 November 2026, 00:00 UTC.
var DefaultStart = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// Config configures a Simulator. The zero value is usable: every zero field
// takes its default, noted on the field.
type Config struct {
	// Seed selects the population and every random choice. The same seed
	// and Config give a byte-identical event stream and labels in
	// simulated mode.
	Seed uint64

	// Start is when the simulated clock starts. Zero means DefaultStart in
	// simulated mode; in real-time mode Start must be zero, and the clock
	// starts at the current time.
	Start time.Time

	// Duration is how much time to generate. Zero means DefaultDuration in
	// simulated mode, and until the context ends in real-time mode.
	Duration time.Duration

	// RealTime paces the output at wall-clock speed: each event is handed
	// to the sink when its occurred_at comes, so occurred_at is "now".
	// False generates as fast as the sink takes events.
	RealTime bool

	// Rate is the mean background rate in events per second (simulated or
	// wall-clock), averaged over a week: about 85% access events and 15%
	// device events. Nights are quieter and days busier than the mean, and
	// weekdays busier than weekends (a weekday runs about 20% above it).
	// The population grows with the rate, so that each actor's behaviour
	// (events per hour, distinct subjects) stays the same at every rate.
	// Zero means DefaultRate; at most MaxRate.
	Rate float64

	// Orgs is the number of tenants (hospitals), 1 to MaxOrgs, each in its
	// own time zone. Zero means DefaultOrgs: Shanghai, Berlin, New York
	// and Sydney, whose nights together cover every hour of the day.
	Orgs int

	// IncidentsPerHour is how many incidents of each enabled kind are
	// injected per hour, spread evenly. Zero means DefaultIncidentsPerHour.
	IncidentsPerHour float64

	// NoIncidents turns incidents off: background traffic only.
	NoIncidents bool

	// Kinds are the incident kinds to inject. Empty means every kind.
	Kinds []Kind

	// FirstIncidentsAfter, when positive, adds one incident of each
	// enabled kind at Start + FirstIncidentsAfter (a few seconds apart), so
	// a demo shows every kind at once. Zero adds none.
	FirstIncidentsAfter time.Duration

	// Key is the pseudonymisation key of the collector that will receive
	// the events. With it, labels carry the tokens of the ids they name
	// beside the raw ids. Nil means labels carry raw ids only.
	Key []byte

	// IDPrefix starts every event id and label id. Empty means "sim-"
	// followed by a digest of the configuration (seed, start, rate, …), so
	// that different runs never share event ids (the pipeline deduplicates
	// by event id). At most 64 bytes of [A-Za-z0-9._:-].
	IDPrefix string

	// Logger receives notices such as skipped incidents. Nil means discard.
	Logger *slog.Logger
}

// DemoConfig returns the configuration `vigil up --demo` uses: real time
// at a gentle rate, one incident of every kind within the first minute,
// then two of each kind per hour.
func DemoConfig(seed uint64) Config {
	return Config{
		Seed:                seed,
		RealTime:            true,
		Rate:                5,
		IncidentsPerHour:    2,
		FirstIncidentsAfter: 10 * time.Second,
	}
}

// withDefaults fills zero fields; now is used in real-time mode.
func (c Config) withDefaults(now time.Time) Config {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Orgs == 0 {
		c.Orgs = DefaultOrgs
	}
	if c.IncidentsPerHour == 0 {
		c.IncidentsPerHour = DefaultIncidentsPerHour
	}
	if len(c.Kinds) == 0 {
		c.Kinds = Kinds()
	}
	if c.RealTime {
		c.Start = now.UTC().Truncate(time.Millisecond)
	} else {
		if c.Start.IsZero() {
			c.Start = DefaultStart
		}
		if c.Duration == 0 {
			c.Duration = DefaultDuration
		}
		c.Start = c.Start.UTC().Truncate(time.Millisecond)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate checks the configuration and returns every problem, joined,
// each naming its field.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.RealTime && !c.Start.IsZero() {
		add("start: must be empty in real-time mode (the clock starts now)")
	}
	if !c.Start.IsZero() && (c.Start.Year() < 1970 || c.Start.Year() > 2099) {
		add("start: %s is outside 1970-2099", c.Start.Format(time.RFC3339))
	}
	if c.Duration < 0 {
		add("duration: %s is negative", c.Duration)
	}
	if c.Duration > 0 && c.Duration < time.Second {
		add("duration: %s is shorter than a second", c.Duration)
	}
	if !c.Start.IsZero() && c.Duration > 0 && c.Start.Add(c.Duration).Year() > 2099 {
		add("duration: the run would end after 2099")
	}
	if math.IsNaN(c.Rate) || c.Rate < 0 || c.Rate > MaxRate {
		add("rate: %v events/s is not between 0 and %v", c.Rate, MaxRate)
	}
	if c.Orgs < 0 || c.Orgs > MaxOrgs {
		add("orgs: %d is not between 1 and %d", c.Orgs, MaxOrgs)
	}
	if math.IsNaN(c.IncidentsPerHour) || c.IncidentsPerHour < 0 || c.IncidentsPerHour > 3600 {
		add("incidents_per_hour: %v is not between 0 and 3600", c.IncidentsPerHour)
	}
	seen := map[Kind]bool{}
	for i, k := range c.Kinds {
		if !k.Valid() {
			add("kinds[%d]: %q is not one of %s", i, string(k), kindNames())
		} else if seen[k] {
			add("kinds[%d]: %q repeats", i, string(k))
		}
		seen[k] = true
	}
	if c.FirstIncidentsAfter < 0 {
		add("first_incidents_after: %s is negative", c.FirstIncidentsAfter)
	}
	if c.Key != nil && len(c.Key) < pseudo.MinKeyLen {
		add("key: %d bytes; a pseudonymisation key has at least %d", len(c.Key), pseudo.MinKeyLen)
	}
	if c.IDPrefix != "" && !validPrefix(c.IDPrefix) {
		add("id_prefix: %q: want at most 64 bytes of [A-Za-z0-9._:-]", c.IDPrefix)
	}
	return errors.Join(errs...)
}

func validPrefix(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
