package behave

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// KeyPrefix starts the YAML key that Validate names in its errors:
// "behaviours.impossible_travel.max_speed_kmh: …". The caller places
// Config under that key of the detector's configuration.
const KeyPrefix = "behaviours."

// Config configures every built-in behaviour, one section each. Start
// from Defaults: every behaviour is enabled there, and a zero number,
// duration or list in a section means that section's default (so a YAML
// file needs to name only what it changes). The limits (max_actors,
// max_devices, max_accounts) are per partition: each partition of the
// detector holds its own state.
type Config struct {
	ActorBaseline      BaselineConfig      `yaml:"actor_baseline"`
	FirstSeen          FirstSeenConfig     `yaml:"first_seen"`
	ImpossibleTravel   TravelConfig        `yaml:"impossible_travel"`
	CareRelationship   CareConfig          `yaml:"care_relationship"`
	BreakGlassBurst    BreakGlassConfig    `yaml:"break_glass_burst"`
	OffHours           OffHoursConfig      `yaml:"off_hours"`
	DeviceSignals      DeviceSignalsConfig `yaml:"device_signals"`
	DeviceManyAccounts ManyAccountsConfig  `yaml:"device_many_accounts"`
	FaceVerifyFailures FaceFailuresConfig  `yaml:"face_verify_failures"`
	SIMSwap            SIMSwapConfig       `yaml:"sim_swap"`
	DormantAccount     DormantConfig       `yaml:"dormant_account"`
}

// BaselineConfig is the actor_baseline section (see the package doc).
type BaselineConfig struct {
	// Enabled turns the behaviour on (true in Defaults).
	Enabled bool `yaml:"enabled"`
	// Severity of its findings. Empty means high.
	Severity event.Severity `yaml:"severity"`
	// IncludeCareRelationship counts accesses with relationship=true
	// too. False (the default) counts only accesses without an
	// established care relationship (false or unknown): a doctor reading
	// their own patients in bulk on a ward round is care, not an anomaly.
	IncludeCareRelationship bool `yaml:"include_care_relationship"`
	// MinEvents, MinSubjects and MinRecords are absolute floors: an hour
	// with fewer counted accesses (distinct subjects, records touched)
	// never fires on that metric, whatever the history. Zero means 40, 30
	// and 1000.
	MinEvents   int `yaml:"min_events"`
	MinSubjects int `yaml:"min_subjects"`
	MinRecords  int `yaml:"min_records"`
	// OwnFactor and OwnMADs: the hour must exceed both OwnFactor × the
	// median of the actor's own active hours and that median + OwnMADs ×
	// 1.4826 × MAD (the median absolute deviation, scaled to a standard
	// deviation). Zero means 3 and 6.
	OwnFactor float64 `yaml:"own_factor"`
	OwnMADs   float64 `yaml:"own_mads"`
	// PeerFactor and PeerMADs are the same against the distribution of
	// the per-actor active hours of the peer group (same org, role and
	// department). Zero means 3 and 6.
	PeerFactor float64 `yaml:"peer_factor"`
	PeerMADs   float64 `yaml:"peer_mads"`
	// MinActiveHours and MinActiveDays are the actor's learning period:
	// no finding until the actor has been active in that many hours and
	// on that many days (UTC). Zero means 24 and 3.
	MinActiveHours int `yaml:"min_active_hours"`
	MinActiveDays  int `yaml:"min_active_days"`
	// MinPeerHours is how many actor-hours the peer group needs before
	// the peer comparison applies; with fewer, only the actor's own
	// history is used. Zero means 48.
	MinPeerHours int `yaml:"min_peer_hours"`
	// HistoryHours bounds the memory of the actor's histogram: when it
	// holds this many hours, every count is halved, so recent weeks
	// weigh most. Zero means 336; at least 2 × min_active_hours.
	HistoryHours int `yaml:"history_hours"`
	// PeerHistoryHours is the same for a peer group. Zero means 4096.
	PeerHistoryHours int `yaml:"peer_history_hours"`
	// MaxActors and MaxPeerGroups bound the state (least recently seen
	// evicted first). Zero means 50000 and 5000.
	MaxActors     int `yaml:"max_actors"`
	MaxPeerGroups int `yaml:"max_peer_groups"`
	// ForgetAfter drops an actor not seen for this long. Zero means 720h.
	ForgetAfter time.Duration `yaml:"forget_after"`
}

// FirstSeenConfig is the first_seen section.
type FirstSeenConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means medium
	// ActorTypes and Roles select the privileged actors watched: an actor
	// of one of the types or with one of the roles (exact, case
	// sensitive). Empty ActorTypes means [admin]; empty Roles means none.
	ActorTypes []event.ActorType `yaml:"actor_types"`
	Roles      []string          `yaml:"roles"`
	// Attributes are what is checked: device (client.device_id),
	// network (client.ip within ipv4_prefix / ipv6_prefix), place
	// (client.geo country and city) and category (data categories of
	// accesses that succeeded). Empty means all four.
	Attributes []string `yaml:"attributes"`
	// LearningPeriod and MinActiveDays: an actor is learnt, without
	// findings, until both this much event time has passed since its
	// first event and it has been active on this many days. Zero means
	// 168h and 3.
	LearningPeriod time.Duration `yaml:"learning_period"`
	MinActiveDays  int           `yaml:"min_active_days"`
	// IPv4Prefix and IPv6Prefix are the network sizes compared. Zero
	// means 24 and 48.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
	// MaxValues is how many values of each attribute are remembered per
	// actor; the least recently seen is forgotten first. Zero means 64.
	MaxValues int `yaml:"max_values"`
	// ForgetAfter forgets a value (and a whole actor) not seen for this
	// long. Zero means 2160h (90 days).
	ForgetAfter time.Duration `yaml:"forget_after"`
	// MaxActors bounds the state. Zero means 20000.
	MaxActors int `yaml:"max_actors"`
}

// TravelConfig is the impossible_travel section.
type TravelConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means high
	// MaxSpeedKmh is the fastest plausible travel; consecutive events
	// implying more fire. Zero means 900 (an airliner).
	MaxSpeedKmh float64 `yaml:"max_speed_kmh"`
	// MinDistanceKm ignores jumps shorter than this (coarsened GPS, IP
	// geolocation error), after subtracting reported accuracy. Zero
	// means 500.
	MinDistanceKm float64 `yaml:"min_distance_km"`
	// CountryChangeWithin fires on a change of client.geo.country within
	// this time when an event has no coordinates. Zero means 1h.
	CountryChangeWithin time.Duration `yaml:"country_change_within"`
	// ForgetAfter forgets an actor's or account's last position after
	// this long (at 900 km/h every place on earth is reachable within a
	// day). Zero means 24h.
	ForgetAfter time.Duration `yaml:"forget_after"`
	// MaxActors and MaxAccounts bound the state of the access and the
	// device stream. Zero means 100000 each.
	MaxActors   int `yaml:"max_actors"`
	MaxAccounts int `yaml:"max_accounts"`
}

// CareConfig is the care_relationship section.
type CareConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means high; minors' and VIPs' data: critical
	// Categories are the data whose reading needs a care relationship.
	// Empty means [health, prescription, biometric].
	Categories []event.Category `yaml:"categories"`
	// Actions are the accesses that read. Empty means [read, search,
	// export, print, download, share].
	Actions []event.Action `yaml:"actions"`
	// Outcomes are the outcomes counted. Empty means [success]: a
	// refused access disclosed nothing.
	Outcomes []event.Outcome `yaml:"outcomes"`
	// BreakGlassCover is how long a break_glass action by an actor on a
	// subject covers that actor's reads of that subject. Zero means 12h.
	BreakGlassCover time.Duration `yaml:"break_glass_cover"`
	// BreakGlassAttrs marks an event as under break-glass by its attrs:
	// every listed key must have the listed value. Nil means
	// {access_mode: break_glass}; an empty map turns the check off.
	BreakGlassAttrs map[string]string `yaml:"break_glass_attrs"`
	// MaxActors bounds the state (actors with recent break-glass). Zero
	// means 50000.
	MaxActors int `yaml:"max_actors"`
}

// BreakGlassConfig is the break_glass_burst section.
type BreakGlassConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means high
	// BurstActions break_glass actions by one actor within BurstWindow
	// fire. Zero means 5 within 1h.
	BurstActions int           `yaml:"burst_actions"`
	BurstWindow  time.Duration `yaml:"burst_window"`
	// DistinctSubjects break-glass subjects of one actor within
	// SubjectsWindow fire. Zero means 10 within 24h.
	DistinctSubjects int           `yaml:"distinct_subjects"`
	SubjectsWindow   time.Duration `yaml:"subjects_window"`
	// MaxActors bounds the state. Zero means 50000.
	MaxActors int `yaml:"max_actors"`
}

// OffHoursConfig is the off_hours section.
type OffHoursConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means medium; minors' data: high
	// TimeZones maps an org to its IANA time zone; others use
	// DefaultTimeZone (empty means UTC).
	TimeZones       map[string]string `yaml:"time_zones"`
	DefaultTimeZone string            `yaml:"default_time_zone"`
	// BusinessHours is "HH:MM-HH:MM" local time, start inclusive, end
	// exclusive; empty means "07:00-19:00". BusinessDays are the days
	// they apply (mon … sun); empty means every day (a hospital works
	// every day; the actor's own hours do the rest).
	BusinessHours string   `yaml:"business_hours"`
	BusinessDays  []string `yaml:"business_days"`
	// Categories are the data watched. Empty means every sensitive
	// category (event.SensitiveCategories).
	Categories []event.Category `yaml:"categories"`
	// UsualShare: a local hour is usual for an actor when that hour,
	// half of each neighbouring hour and a quarter of the hours two away
	// hold at least this share of the actor's events. Zero means 0.02.
	UsualShare float64 `yaml:"usual_share"`
	// MinHistoryEvents and MinActiveDays are the learning period: no
	// finding until the actor's histogram holds this many events from
	// this many local days. Zero means 200 and 5.
	MinHistoryEvents int `yaml:"min_history_events"`
	MinActiveDays    int `yaml:"min_active_days"`
	// HistoryEvents halves the histogram when it reaches this many
	// events. Zero means 8192.
	HistoryEvents int `yaml:"history_events"`
	// MinEvents off-hours sensitive accesses within Window fire, so one
	// late click does not. Zero means 3 within 2h.
	MinEvents int           `yaml:"min_events"`
	Window    time.Duration `yaml:"window"`
	// MaxActors bounds the state. Zero means 50000.
	MaxActors int `yaml:"max_actors"`
	// ForgetAfter drops an actor not seen for this long. Zero means 720h.
	ForgetAfter time.Duration `yaml:"forget_after"`
}

// DeviceSignalsConfig is the device_signals section.
type DeviceSignalsConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means high
	// Kinds are the sensitive steps watched. Empty means [realname_auth,
	// face_verify, payment, password_reset].
	Kinds []event.DeviceKind `yaml:"kinds"`
	// Signals are the risk signals (device.signals keys) that fire.
	// Empty means [emulator, hook_framework]; rooted is left out because
	// one Android phone in a hundred is rooted by its owner.
	Signals []string `yaml:"signals"`
}

// ManyAccountsConfig is the device_many_accounts section.
type ManyAccountsConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means high
	// MaxAccounts is how many distinct accounts one device may use
	// within Window; one more fires. Zero means 5 within 24h.
	MaxAccounts int           `yaml:"max_accounts"`
	Window      time.Duration `yaml:"window"`
	// MaxDevices bounds the state. Zero means 100000.
	MaxDevices int `yaml:"max_devices"`
}

// FaceFailuresConfig is the face_verify_failures section.
type FaceFailuresConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means medium
	// Failures failed face checks (kind face_verify with one of
	// Outcomes) on one device, or of one account, within Window fire.
	// Zero means 5 within 15m.
	Failures int           `yaml:"failures"`
	Window   time.Duration `yaml:"window"`
	// Outcomes that count as failed. Empty means [failure, denied].
	Outcomes []event.Outcome `yaml:"outcomes"`
	// MaxDevices and MaxAccounts bound the state. Zero means 100000 each.
	MaxDevices  int `yaml:"max_devices"`
	MaxAccounts int `yaml:"max_accounts"`
}

// SIMSwapConfig is the sim_swap section.
type SIMSwapConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means high
	// Window is how long after a sim_change a step of FollowedBy on the
	// same account fires. Zero means 2h.
	Window time.Duration `yaml:"window"`
	// FollowedBy are the kinds that complete a takeover. Empty means
	// [password_reset].
	FollowedBy []event.DeviceKind `yaml:"followed_by"`
	// AnyDevice fires whatever device the step comes from. False (the
	// default) fires only when the account had not used that device
	// before the SIM change (first seen less than window before it): a
	// customer who changes SIM and then resets the password on the phone
	// they always use is not taken over.
	AnyDevice bool `yaml:"any_device"`
	// MaxAccounts and MaxDevices bound the state. Zero means 100000 each.
	MaxAccounts int `yaml:"max_accounts"`
	MaxDevices  int `yaml:"max_devices"`
	// ForgetAfter forgets a device (and the accounts it was used by) not
	// seen for this long. Zero means 720h.
	ForgetAfter time.Duration `yaml:"forget_after"`
	// LearningPeriod: no finding until the behaviour has seen this much
	// event time, so that the phones owners use every day are known
	// (without it, every device is new when monitoring starts). Zero
	// means 24h.
	LearningPeriod time.Duration `yaml:"learning_period"`
}

// DormantConfig is the dormant_account section.
type DormantConfig struct {
	Enabled  bool           `yaml:"enabled"`
	Severity event.Severity `yaml:"severity"` // empty means high; minors' and VIPs' data: one step higher
	// Idle is how long an actor must have had no event to count as
	// dormant. Zero means 720h (30 days).
	Idle time.Duration `yaml:"idle"`
	// MinActiveDays: only an actor seen on this many distinct days (UTC)
	// before the gap can be dormant, so a new actor is not. Zero means 3.
	MinActiveDays int `yaml:"min_active_days"`
	// MinRecords records of sensitive categories, or exported, printed or
	// downloaded, within Window of the first event after the gap fire.
	// Zero means 20 within 24h.
	MinRecords int           `yaml:"min_records"`
	Window     time.Duration `yaml:"window"`
	// ForgetAfter drops an actor not seen for this long (it is then new
	// when it returns). Zero means 8760h (365 days); longer than idle.
	ForgetAfter time.Duration `yaml:"forget_after"`
	// MaxActors bounds the state. Zero means 100000.
	MaxActors int `yaml:"max_actors"`
}

// Defaults returns the configuration with every behaviour enabled and
// every default spelled out.
func Defaults() Config {
	return Config{
		ActorBaseline: BaselineConfig{Enabled: true, Severity: event.SeverityHigh,
			MinEvents: 40, MinSubjects: 30, MinRecords: 1000, OwnFactor: 3, OwnMADs: 6, PeerFactor: 3, PeerMADs: 6,
			MinActiveHours: 24, MinActiveDays: 3, MinPeerHours: 48, HistoryHours: 336,
			PeerHistoryHours: 4096, MaxActors: 50000, MaxPeerGroups: 5000, ForgetAfter: 720 * time.Hour},
		FirstSeen: FirstSeenConfig{Enabled: true, Severity: event.SeverityMedium,
			ActorTypes: []event.ActorType{event.ActorAdmin}, Attributes: slices.Clone(firstSeenAttributes),
			LearningPeriod: 168 * time.Hour, MinActiveDays: 3, IPv4Prefix: 24, IPv6Prefix: 48,
			MaxValues: 64, ForgetAfter: 2160 * time.Hour, MaxActors: 20000},
		ImpossibleTravel: TravelConfig{Enabled: true, Severity: event.SeverityHigh,
			MaxSpeedKmh: 900, MinDistanceKm: 500, CountryChangeWithin: time.Hour, ForgetAfter: 24 * time.Hour,
			MaxActors: 100000, MaxAccounts: 100000},
		CareRelationship: CareConfig{Enabled: true, Severity: event.SeverityHigh,
			Categories: []event.Category{event.CategoryHealth, event.CategoryPrescription, event.CategoryBiometric},
			Actions: []event.Action{event.ActionRead, event.ActionSearch, event.ActionExport, event.ActionPrint,
				event.ActionDownload, event.ActionShare},
			Outcomes:        []event.Outcome{event.OutcomeSuccess},
			BreakGlassCover: 12 * time.Hour, BreakGlassAttrs: map[string]string{"access_mode": "break_glass"},
			MaxActors: 50000},
		BreakGlassBurst: BreakGlassConfig{Enabled: true, Severity: event.SeverityHigh,
			BurstActions: 5, BurstWindow: time.Hour, DistinctSubjects: 10, SubjectsWindow: 24 * time.Hour,
			MaxActors: 50000},
		OffHours: OffHoursConfig{Enabled: true, Severity: event.SeverityMedium,
			DefaultTimeZone: "UTC", BusinessHours: "07:00-19:00", BusinessDays: slices.Clone(weekdayNames[:]),
			Categories: event.SensitiveCategories(), UsualShare: 0.02, MinHistoryEvents: 200, MinActiveDays: 5,
			HistoryEvents: 8192, MinEvents: 3, Window: 2 * time.Hour, MaxActors: 50000,
			ForgetAfter: 720 * time.Hour},
		DeviceSignals: DeviceSignalsConfig{Enabled: true, Severity: event.SeverityHigh,
			Kinds: []event.DeviceKind{event.KindRealnameAuth, event.KindFaceVerify, event.KindPayment,
				event.KindPasswordReset},
			Signals: []string{"emulator", "hook_framework"}},
		DeviceManyAccounts: ManyAccountsConfig{Enabled: true, Severity: event.SeverityHigh,
			MaxAccounts: 5, Window: 24 * time.Hour, MaxDevices: 100000},
		FaceVerifyFailures: FaceFailuresConfig{Enabled: true, Severity: event.SeverityMedium,
			Failures: 5, Window: 15 * time.Minute, Outcomes: []event.Outcome{event.OutcomeFailure, event.OutcomeDenied},
			MaxDevices: 100000, MaxAccounts: 100000},
		SIMSwap: SIMSwapConfig{Enabled: true, Severity: event.SeverityHigh,
			Window: 2 * time.Hour, FollowedBy: []event.DeviceKind{event.KindPasswordReset}, MaxAccounts: 100000,
			MaxDevices: 100000, ForgetAfter: 720 * time.Hour, LearningPeriod: 24 * time.Hour},
		DormantAccount: DormantConfig{Enabled: true, Severity: event.SeverityHigh,
			Idle: 720 * time.Hour, MinActiveDays: 3, MinRecords: 20, Window: 24 * time.Hour,
			ForgetAfter: 8760 * time.Hour, MaxActors: 100000},
	}
}

var firstSeenAttributes = []string{"device", "network", "place", "category"}

var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// signalNames are the keys of device.signals, in schema order.
var signalNames = []string{"emulator", "rooted", "hook_framework", "debugger", "app_tampered",
	"proxy_or_vpn", "multi_open", "location_spoofed", "remote_control"}

// withDefaults returns c with every zero field of every section set from
// Defaults (Enabled is left as it is).
func (c Config) withDefaults() Config {
	d := Defaults()
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	deff := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	defd := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	defs := func(p *event.Severity, v event.Severity) {
		if *p == "" {
			*p = v
		}
	}

	b, db := &c.ActorBaseline, d.ActorBaseline
	defs(&b.Severity, db.Severity)
	def(&b.MinEvents, db.MinEvents)
	def(&b.MinSubjects, db.MinSubjects)
	def(&b.MinRecords, db.MinRecords)
	deff(&b.OwnFactor, db.OwnFactor)
	deff(&b.OwnMADs, db.OwnMADs)
	deff(&b.PeerFactor, db.PeerFactor)
	deff(&b.PeerMADs, db.PeerMADs)
	def(&b.MinActiveHours, db.MinActiveHours)
	def(&b.MinActiveDays, db.MinActiveDays)
	def(&b.MinPeerHours, db.MinPeerHours)
	def(&b.HistoryHours, db.HistoryHours)
	def(&b.PeerHistoryHours, db.PeerHistoryHours)
	def(&b.MaxActors, db.MaxActors)
	def(&b.MaxPeerGroups, db.MaxPeerGroups)
	defd(&b.ForgetAfter, db.ForgetAfter)

	f, df := &c.FirstSeen, d.FirstSeen
	defs(&f.Severity, df.Severity)
	if len(f.ActorTypes) == 0 {
		f.ActorTypes = df.ActorTypes
	}
	if len(f.Attributes) == 0 {
		f.Attributes = df.Attributes
	}
	defd(&f.LearningPeriod, df.LearningPeriod)
	def(&f.MinActiveDays, df.MinActiveDays)
	def(&f.IPv4Prefix, df.IPv4Prefix)
	def(&f.IPv6Prefix, df.IPv6Prefix)
	def(&f.MaxValues, df.MaxValues)
	defd(&f.ForgetAfter, df.ForgetAfter)
	def(&f.MaxActors, df.MaxActors)

	t, dt := &c.ImpossibleTravel, d.ImpossibleTravel
	defs(&t.Severity, dt.Severity)
	deff(&t.MaxSpeedKmh, dt.MaxSpeedKmh)
	deff(&t.MinDistanceKm, dt.MinDistanceKm)
	defd(&t.CountryChangeWithin, dt.CountryChangeWithin)
	defd(&t.ForgetAfter, dt.ForgetAfter)
	def(&t.MaxActors, dt.MaxActors)
	def(&t.MaxAccounts, dt.MaxAccounts)

	r, dr := &c.CareRelationship, d.CareRelationship
	defs(&r.Severity, dr.Severity)
	if len(r.Categories) == 0 {
		r.Categories = dr.Categories
	}
	if len(r.Actions) == 0 {
		r.Actions = dr.Actions
	}
	if len(r.Outcomes) == 0 {
		r.Outcomes = dr.Outcomes
	}
	defd(&r.BreakGlassCover, dr.BreakGlassCover)
	if r.BreakGlassAttrs == nil {
		r.BreakGlassAttrs = dr.BreakGlassAttrs
	}
	def(&r.MaxActors, dr.MaxActors)

	g, dg := &c.BreakGlassBurst, d.BreakGlassBurst
	defs(&g.Severity, dg.Severity)
	def(&g.BurstActions, dg.BurstActions)
	defd(&g.BurstWindow, dg.BurstWindow)
	def(&g.DistinctSubjects, dg.DistinctSubjects)
	defd(&g.SubjectsWindow, dg.SubjectsWindow)
	def(&g.MaxActors, dg.MaxActors)

	o, do := &c.OffHours, d.OffHours
	defs(&o.Severity, do.Severity)
	if o.DefaultTimeZone == "" {
		o.DefaultTimeZone = do.DefaultTimeZone
	}
	if o.BusinessHours == "" {
		o.BusinessHours = do.BusinessHours
	}
	if len(o.BusinessDays) == 0 {
		o.BusinessDays = do.BusinessDays
	}
	if len(o.Categories) == 0 {
		o.Categories = do.Categories
	}
	deff(&o.UsualShare, do.UsualShare)
	def(&o.MinHistoryEvents, do.MinHistoryEvents)
	def(&o.MinActiveDays, do.MinActiveDays)
	def(&o.HistoryEvents, do.HistoryEvents)
	def(&o.MinEvents, do.MinEvents)
	defd(&o.Window, do.Window)
	def(&o.MaxActors, do.MaxActors)
	defd(&o.ForgetAfter, do.ForgetAfter)

	s, ds := &c.DeviceSignals, d.DeviceSignals
	defs(&s.Severity, ds.Severity)
	if len(s.Kinds) == 0 {
		s.Kinds = ds.Kinds
	}
	if len(s.Signals) == 0 {
		s.Signals = ds.Signals
	}

	m, dm := &c.DeviceManyAccounts, d.DeviceManyAccounts
	defs(&m.Severity, dm.Severity)
	def(&m.MaxAccounts, dm.MaxAccounts)
	defd(&m.Window, dm.Window)
	def(&m.MaxDevices, dm.MaxDevices)

	ff, dff := &c.FaceVerifyFailures, d.FaceVerifyFailures
	defs(&ff.Severity, dff.Severity)
	def(&ff.Failures, dff.Failures)
	defd(&ff.Window, dff.Window)
	if len(ff.Outcomes) == 0 {
		ff.Outcomes = dff.Outcomes
	}
	def(&ff.MaxDevices, dff.MaxDevices)
	def(&ff.MaxAccounts, dff.MaxAccounts)

	w, dw := &c.SIMSwap, d.SIMSwap
	defs(&w.Severity, dw.Severity)
	defd(&w.Window, dw.Window)
	if len(w.FollowedBy) == 0 {
		w.FollowedBy = dw.FollowedBy
	}
	def(&w.MaxAccounts, dw.MaxAccounts)
	def(&w.MaxDevices, dw.MaxDevices)
	defd(&w.ForgetAfter, dw.ForgetAfter)
	defd(&w.LearningPeriod, dw.LearningPeriod)

	z, dz := &c.DormantAccount, d.DormantAccount
	defs(&z.Severity, dz.Severity)
	defd(&z.Idle, dz.Idle)
	def(&z.MinActiveDays, dz.MinActiveDays)
	def(&z.MinRecords, dz.MinRecords)
	defd(&z.Window, dz.Window)
	defd(&z.ForgetAfter, dz.ForgetAfter)
	def(&z.MaxActors, dz.MaxActors)
	return c
}

// maxLimit bounds every max_* setting (a typo guard: state is held in
// memory per partition).
const maxLimit = 10_000_000

// Validate reports every problem in c, each naming its YAML key (with
// KeyPrefix), joined with errors.Join. Zero values are valid: they mean
// the defaults. Sections that are not enabled are checked too, so that
// enabling one later does not surprise.
func (c Config) Validate() error {
	var errs []error
	add := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", KeyPrefix, key, fmt.Sprintf(format, args...)))
	}
	sev := func(sec string, s event.Severity) {
		if s != "" && !s.Valid() {
			add(sec+".severity", "%q is not one of info|low|medium|high|critical", s)
		}
	}
	count := func(key string, v int) { // 0 = default, else ≥ 1 and bounded
		switch {
		case v < 0:
			add(key, "%d is negative (0 means the default)", v)
		case v > maxLimit:
			add(key, "%d is more than %d", v, maxLimit)
		}
	}
	positive := func(key string, v float64, least float64) {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			add(key, "%v is not a number", v)
		case v < 0:
			add(key, "%v is negative (0 means the default)", v)
		case v != 0 && v < least:
			add(key, "%v is less than %v", v, least)
		}
	}
	dur := func(key string, v, least time.Duration) {
		switch {
		case v < 0:
			add(key, "%s is negative (0 means the default)", v)
		case v != 0 && v < least:
			add(key, "%s is shorter than %s", v, least)
		}
	}

	b := c.ActorBaseline
	sev("actor_baseline", b.Severity)
	count("actor_baseline.min_events", b.MinEvents)
	count("actor_baseline.min_subjects", b.MinSubjects)
	count("actor_baseline.min_records", b.MinRecords)
	positive("actor_baseline.own_factor", b.OwnFactor, 1)
	positive("actor_baseline.own_mads", b.OwnMADs, 0)
	positive("actor_baseline.peer_factor", b.PeerFactor, 1)
	positive("actor_baseline.peer_mads", b.PeerMADs, 0)
	count("actor_baseline.min_active_hours", b.MinActiveHours)
	count("actor_baseline.min_active_days", b.MinActiveDays)
	count("actor_baseline.min_peer_hours", b.MinPeerHours)
	count("actor_baseline.history_hours", b.HistoryHours)
	count("actor_baseline.peer_history_hours", b.PeerHistoryHours)
	count("actor_baseline.max_actors", b.MaxActors)
	count("actor_baseline.max_peer_groups", b.MaxPeerGroups)
	dur("actor_baseline.forget_after", b.ForgetAfter, time.Hour)
	{
		e := c.withDefaults().ActorBaseline
		if e.HistoryHours < 2*e.MinActiveHours || e.HistoryHours < minHistory {
			add("actor_baseline.history_hours", "%d is less than %d or twice min_active_hours (%d)", e.HistoryHours, minHistory, e.MinActiveHours)
		}
		if e.PeerHistoryHours < 2*e.MinPeerHours || e.PeerHistoryHours < minHistory {
			add("actor_baseline.peer_history_hours", "%d is less than %d or twice min_peer_hours (%d)", e.PeerHistoryHours, minHistory, e.MinPeerHours)
		}
		if e.HistoryHours > math.MaxUint16 || e.PeerHistoryHours > math.MaxUint16 {
			add("actor_baseline.history_hours", "history_hours and peer_history_hours must be at most %d", math.MaxUint16)
		}
	}

	f := c.FirstSeen
	sev("first_seen", f.Severity)
	for i, t := range f.ActorTypes {
		if !t.Valid() {
			add(fmt.Sprintf("first_seen.actor_types[%d]", i), "%q is not one of %s", t, joinStrings(event.ActorTypes()))
		}
	}
	for i, r := range f.Roles {
		if r == "" {
			add(fmt.Sprintf("first_seen.roles[%d]", i), "empty")
		}
	}
	for i, a := range f.Attributes {
		if !slices.Contains(firstSeenAttributes, a) {
			add(fmt.Sprintf("first_seen.attributes[%d]", i), "%q is not one of %s", a, strings.Join(firstSeenAttributes, "|"))
		}
	}
	dur("first_seen.learning_period", f.LearningPeriod, 0)
	count("first_seen.min_active_days", f.MinActiveDays)
	if f.IPv4Prefix < 0 || f.IPv4Prefix > 32 {
		add("first_seen.ipv4_prefix", "%d is not between 1 and 32", f.IPv4Prefix)
	}
	if f.IPv6Prefix < 0 || f.IPv6Prefix > 128 {
		add("first_seen.ipv6_prefix", "%d is not between 1 and 128", f.IPv6Prefix)
	}
	count("first_seen.max_values", f.MaxValues)
	if f.MaxValues > maxValues {
		add("first_seen.max_values", "%d is more than %d", f.MaxValues, maxValues)
	}
	dur("first_seen.forget_after", f.ForgetAfter, time.Hour)
	count("first_seen.max_actors", f.MaxActors)

	t := c.ImpossibleTravel
	sev("impossible_travel", t.Severity)
	positive("impossible_travel.max_speed_kmh", t.MaxSpeedKmh, 1)
	positive("impossible_travel.min_distance_km", t.MinDistanceKm, 0)
	dur("impossible_travel.country_change_within", t.CountryChangeWithin, 0)
	dur("impossible_travel.forget_after", t.ForgetAfter, time.Minute)
	count("impossible_travel.max_actors", t.MaxActors)
	count("impossible_travel.max_accounts", t.MaxAccounts)

	r := c.CareRelationship
	sev("care_relationship", r.Severity)
	for i, v := range r.Categories {
		if !v.Valid() {
			add(fmt.Sprintf("care_relationship.categories[%d]", i), "%q is not one of %s", v, joinStrings(event.Categories()))
		}
	}
	for i, v := range r.Actions {
		if !v.Valid() {
			add(fmt.Sprintf("care_relationship.actions[%d]", i), "%q is not one of %s", v, joinStrings(event.Actions()))
		}
	}
	for i, v := range r.Outcomes {
		if !slices.Contains(event.AccessOutcomes(), v) {
			add(fmt.Sprintf("care_relationship.outcomes[%d]", i), "%q is not one of %s", v, joinStrings(event.AccessOutcomes()))
		}
	}
	dur("care_relationship.break_glass_cover", r.BreakGlassCover, time.Minute)
	for k := range r.BreakGlassAttrs {
		if k == "" {
			add("care_relationship.break_glass_attrs", "empty key")
		}
	}
	count("care_relationship.max_actors", r.MaxActors)

	g := c.BreakGlassBurst
	sev("break_glass_burst", g.Severity)
	count("break_glass_burst.burst_actions", g.BurstActions)
	if g.BurstActions == 1 {
		add("break_glass_burst.burst_actions", "1 would fire on every break-glass; at least 2")
	}
	dur("break_glass_burst.burst_window", g.BurstWindow, time.Minute)
	count("break_glass_burst.distinct_subjects", g.DistinctSubjects)
	if g.DistinctSubjects == 1 {
		add("break_glass_burst.distinct_subjects", "1 would fire on every break-glass; at least 2")
	}
	if g.BurstActions > maxBurst || g.DistinctSubjects > maxBurst {
		add("break_glass_burst", "burst_actions and distinct_subjects must be at most %d", maxBurst)
	}
	dur("break_glass_burst.subjects_window", g.SubjectsWindow, time.Minute)
	count("break_glass_burst.max_actors", g.MaxActors)

	o := c.OffHours
	sev("off_hours", o.Severity)
	if o.DefaultTimeZone != "" {
		if _, err := time.LoadLocation(o.DefaultTimeZone); err != nil {
			add("off_hours.default_time_zone", "%q: %v", o.DefaultTimeZone, err)
		}
	}
	for _, org := range sortedKeys(o.TimeZones) {
		if _, err := time.LoadLocation(o.TimeZones[org]); err != nil || o.TimeZones[org] == "" {
			add("off_hours.time_zones."+org, "%q is not a known IANA time zone", o.TimeZones[org])
		}
	}
	if o.BusinessHours != "" {
		if _, _, err := parseBusinessHours(o.BusinessHours); err != nil {
			add("off_hours.business_hours", "%v", err)
		}
	}
	for i, d := range o.BusinessDays {
		if !slices.Contains(weekdayNames[:], d) {
			add(fmt.Sprintf("off_hours.business_days[%d]", i), "%q is not one of %s", d, strings.Join(weekdayNames[:], "|"))
		}
	}
	for i, v := range o.Categories {
		if !v.Valid() {
			add(fmt.Sprintf("off_hours.categories[%d]", i), "%q is not one of %s", v, joinStrings(event.Categories()))
		}
	}
	positive("off_hours.usual_share", o.UsualShare, 0)
	if o.UsualShare >= 1 {
		add("off_hours.usual_share", "%v is not less than 1", o.UsualShare)
	}
	count("off_hours.min_history_events", o.MinHistoryEvents)
	count("off_hours.min_active_days", o.MinActiveDays)
	count("off_hours.history_events", o.HistoryEvents)
	if e := c.withDefaults().OffHours; e.HistoryEvents < 2*e.MinHistoryEvents || e.HistoryEvents > math.MaxUint16 {
		add("off_hours.history_events", "%d is not between twice min_history_events (%d) and %d", e.HistoryEvents, e.MinHistoryEvents, math.MaxUint16)
	}
	count("off_hours.min_events", o.MinEvents)
	if o.MinEvents > maxBurst {
		add("off_hours.min_events", "%d is more than %d", o.MinEvents, maxBurst)
	}
	dur("off_hours.window", o.Window, time.Minute)
	count("off_hours.max_actors", o.MaxActors)
	dur("off_hours.forget_after", o.ForgetAfter, time.Hour)

	s := c.DeviceSignals
	sev("device_signals", s.Severity)
	for i, k := range s.Kinds {
		if !k.Valid() {
			add(fmt.Sprintf("device_signals.kinds[%d]", i), "%q is not one of %s", k, joinStrings(event.DeviceKinds()))
		}
	}
	for i, v := range s.Signals {
		if !slices.Contains(signalNames, v) {
			add(fmt.Sprintf("device_signals.signals[%d]", i), "%q is not one of %s", v, strings.Join(signalNames, "|"))
		}
	}

	m := c.DeviceManyAccounts
	sev("device_many_accounts", m.Severity)
	count("device_many_accounts.max_accounts", m.MaxAccounts)
	if m.MaxAccounts > maxBurst {
		add("device_many_accounts.max_accounts", "%d is more than %d", m.MaxAccounts, maxBurst)
	}
	dur("device_many_accounts.window", m.Window, time.Minute)
	count("device_many_accounts.max_devices", m.MaxDevices)

	ff := c.FaceVerifyFailures
	sev("face_verify_failures", ff.Severity)
	count("face_verify_failures.failures", ff.Failures)
	if ff.Failures == 1 || ff.Failures > maxBurst {
		add("face_verify_failures.failures", "%d is not between 2 and %d", ff.Failures, maxBurst)
	}
	dur("face_verify_failures.window", ff.Window, time.Second)
	for i, v := range ff.Outcomes {
		if !slices.Contains(event.DeviceOutcomes(), v) {
			add(fmt.Sprintf("face_verify_failures.outcomes[%d]", i), "%q is not one of %s", v, joinStrings(event.DeviceOutcomes()))
		}
	}
	count("face_verify_failures.max_devices", ff.MaxDevices)
	count("face_verify_failures.max_accounts", ff.MaxAccounts)

	w := c.SIMSwap
	sev("sim_swap", w.Severity)
	dur("sim_swap.window", w.Window, time.Minute)
	for i, k := range w.FollowedBy {
		if !k.Valid() || k == event.KindSIMChange {
			add(fmt.Sprintf("sim_swap.followed_by[%d]", i), "%q is not a device kind other than sim_change", k)
		}
	}
	count("sim_swap.max_accounts", w.MaxAccounts)
	count("sim_swap.max_devices", w.MaxDevices)
	dur("sim_swap.forget_after", w.ForgetAfter, time.Hour)
	dur("sim_swap.learning_period", w.LearningPeriod, 0)

	z := c.DormantAccount
	sev("dormant_account", z.Severity)
	dur("dormant_account.idle", z.Idle, time.Hour)
	count("dormant_account.min_active_days", z.MinActiveDays)
	count("dormant_account.min_records", z.MinRecords)
	if z.MinRecords > maxBurst {
		add("dormant_account.min_records", "%d is more than %d", z.MinRecords, maxBurst)
	}
	dur("dormant_account.window", z.Window, time.Minute)
	dur("dormant_account.forget_after", z.ForgetAfter, time.Hour)
	count("dormant_account.max_actors", z.MaxActors)
	if e := c.withDefaults().DormantAccount; e.ForgetAfter <= e.Idle {
		add("dormant_account.forget_after", "%s is not longer than idle (%s)", e.ForgetAfter, e.Idle)
	}
	return errors.Join(errs...)
}

// minHistory is the smallest histogram halving limit: halving must leave
// room below the limit (every non-empty bin keeps at least one count).
const minHistory = 2 * nBins

// maxBurst bounds the counts kept per actor or device for bursts.
const maxBurst = 1000

func joinStrings[S ~string](v []S) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = string(x)
	}
	return strings.Join(s, "|")
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

// parseBusinessHours parses "HH:MM-HH:MM" into minutes of the day [start,
// end). end may be 24:00; start after end spans midnight.
func parseBusinessHours(s string) (start, end int, err error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want HH:MM-HH:MM", s)
	}
	if start, err = parseClock(strings.TrimSpace(from)); err != nil {
		return 0, 0, fmt.Errorf("%q: %v", s, err)
	}
	if end, err = parseClock(strings.TrimSpace(to)); err != nil {
		return 0, 0, fmt.Errorf("%q: %v", s, err)
	}
	if start == end {
		return 0, 0, fmt.Errorf("%q: start and end are equal", s)
	}
	return start, end, nil
}

func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, m := 0, 0
	for _, c := range s[:2] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not HH:MM", s)
		}
		h = h*10 + int(c-'0')
	}
	for _, c := range s[3:] {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%q is not HH:MM", s)
		}
		m = m*10 + int(c-'0')
	}
	if m > 59 || h > 24 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}
