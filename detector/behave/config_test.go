package behave

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/config"
	"github.com/vigil-audit/vigil/internal/event"
)

func TestDefaults(t *testing.T) {
	d := Defaults()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := d.withDefaults(); !reflect.DeepEqual(got, d) {
		t.Errorf("withDefaults changes Defaults:\n%+v\n%+v", got, d)
	}
	bs, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{RuleActorBaseline, RuleFirstSeen, RuleImpossibleTravel, RuleCareRelationship, RuleBreakGlassBurst,
		RuleOffHours, RuleDeviceSignals, RuleDeviceManyAccounts, RuleFaceVerifyFailures, RuleSIMSwap, RuleDormantAccount}
	var got []string
	for _, b := range bs {
		got = append(got, b.Name())
		if !strings.HasPrefix(b.Name(), detector.BehaviourPrefix) {
			t.Errorf("%s lacks the prefix", b.Name())
		}
		info, ok := b.(detector.BehaviourInfo)
		if !ok || info.Title() == "" || !info.Severity().Valid() {
			t.Errorf("%s: BehaviourInfo %v", b.Name(), ok)
		}
		if _, ok := b.(StatsReporter); !ok {
			t.Errorf("%s is not a StatsReporter", b.Name())
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("New built %v, want %v", got, want)
	}
	// Every instance is fresh: two calls share nothing.
	bs2, _ := New(d)
	for i := range bs {
		if bs[i] == bs2[i] {
			t.Errorf("%s shared between two New calls", bs[i].Name())
		}
	}
}

func TestZeroConfigBuildsNothing(t *testing.T) {
	bs, err := New(Config{})
	if err != nil || len(bs) != 0 {
		t.Fatalf("New(Config{}) = %d behaviours, %v; want none (start from Defaults)", len(bs), err)
	}
	var c Config
	c.ImpossibleTravel.Enabled = true
	bs, err = New(c)
	if err != nil || len(bs) != 1 || bs[0].Name() != RuleImpossibleTravel {
		t.Fatalf("only travel enabled: %v, %v", bs, err)
	}
}

func TestLoadYAML(t *testing.T) {
	var dst struct {
		Behaviours Config `yaml:"behaviours"`
	}
	dst.Behaviours = Defaults()
	if _, err := config.Load(&dst, config.Source{File: "testdata/behaviours.good.yml"}); err != nil {
		t.Fatal(err)
	}
	c := dst.Behaviours
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.ActorBaseline.MinEvents != 40 || !c.ActorBaseline.IncludeCareRelationship || c.ActorBaseline.ForgetAfter != 240*time.Hour ||
		c.FirstSeen.IPv6Prefix != 64 || !slices.Equal(c.FirstSeen.ActorTypes, []event.ActorType{event.ActorAdmin, event.ActorService}) ||
		c.ImpossibleTravel.CountryChangeWithin != 30*time.Minute || c.CareRelationship.BreakGlassAttrs["emergency"] != "yes" ||
		c.BreakGlassBurst.Enabled || c.OffHours.TimeZones["hosp-berlin"] != "Europe/Berlin" || c.OffHours.UsualShare != 0.03 ||
		!slices.Equal(c.SIMSwap.FollowedBy, []event.DeviceKind{event.KindPasswordReset, event.KindChangePhone}) ||
		c.ActorBaseline.MinRecords != 5000 || !c.SIMSwap.AnyDevice || c.SIMSwap.LearningPeriod != 48*time.Hour {
		t.Errorf("decoded %+v", c)
	}
	bs, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 10 {
		t.Errorf("%d behaviours, want 10 (break_glass_burst disabled)", len(bs))
	}
	// Unknown keys and malformed values are refused by the loader, each
	// with its key path.
	var bad struct {
		Behaviours Config `yaml:"behaviours"`
	}
	_, err = config.Load(&bad, config.Source{File: "testdata/behaviours.bad.yml"})
	if err == nil || !strings.Contains(err.Error(), "behaviours.impossible_travel.max_speed") ||
		!strings.Contains(err.Error(), "behaviours.off_hours.window") {
		t.Errorf("bad file: %v", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(c *Config)
		want string
	}{
		{"severity", func(c *Config) { c.ActorBaseline.Severity = "urgent" },
			`behaviours.actor_baseline.severity: "urgent" is not one of info|low|medium|high|critical`},
		{"negative count", func(c *Config) { c.ActorBaseline.MinEvents = -1 },
			"behaviours.actor_baseline.min_events: -1 is negative (0 means the default)"},
		{"factor below 1", func(c *Config) { c.ActorBaseline.OwnFactor = 0.5 },
			"behaviours.actor_baseline.own_factor: 0.5 is less than 1"},
		{"history shorter than learning", func(c *Config) { c.ActorBaseline.MinActiveHours = 200 },
			"behaviours.actor_baseline.history_hours: 336 is less than 144 or twice min_active_hours (200)"},
		{"huge max", func(c *Config) { c.ActorBaseline.MaxActors = 1 << 30 },
			"behaviours.actor_baseline.max_actors: 1073741824 is more than 10000000"},
		{"actor type", func(c *Config) { c.FirstSeen.ActorTypes = []event.ActorType{"root"} },
			`behaviours.first_seen.actor_types[0]: "root" is not one of staff|doctor|service|admin|user`},
		{"attribute", func(c *Config) { c.FirstSeen.Attributes = []string{"device", "mac"} },
			`behaviours.first_seen.attributes[1]: "mac" is not one of device|network|place|category`},
		{"prefix", func(c *Config) { c.FirstSeen.IPv4Prefix = 33 },
			"behaviours.first_seen.ipv4_prefix: 33 is not between 1 and 32"},
		{"speed NaN", func(c *Config) { c.ImpossibleTravel.MaxSpeedKmh = nan() },
			"behaviours.impossible_travel.max_speed_kmh: NaN is not a number"},
		{"negative duration", func(c *Config) { c.ImpossibleTravel.ForgetAfter = -time.Hour },
			"behaviours.impossible_travel.forget_after: -1h0m0s is negative (0 means the default)"},
		{"category", func(c *Config) { c.CareRelationship.Categories = []event.Category{"dna"} },
			`behaviours.care_relationship.categories[0]: "dna" is not one of id_number|biometric`},
		{"access outcome", func(c *Config) { c.CareRelationship.Outcomes = []event.Outcome{event.OutcomeFailure} },
			`behaviours.care_relationship.outcomes[0]: "failure" is not one of success|denied|error`},
		{"burst of one", func(c *Config) { c.BreakGlassBurst.BurstActions = 1 },
			"behaviours.break_glass_burst.burst_actions: 1 would fire on every break-glass; at least 2"},
		{"time zone", func(c *Config) { c.OffHours.TimeZones = map[string]string{"org1": "Mars/Olympus"} },
			`behaviours.off_hours.time_zones.org1: "Mars/Olympus" is not a known IANA time zone`},
		{"business hours", func(c *Config) { c.OffHours.BusinessHours = "7-19" },
			`behaviours.off_hours.business_hours: "7-19": "7" is not HH:MM`},
		{"business hours equal", func(c *Config) { c.OffHours.BusinessHours = "08:00-08:00" },
			`behaviours.off_hours.business_hours: "08:00-08:00": start and end are equal`},
		{"business day", func(c *Config) { c.OffHours.BusinessDays = []string{"monday"} },
			`behaviours.off_hours.business_days[0]: "monday" is not one of sun|mon|tue|wed|thu|fri|sat`},
		{"usual share", func(c *Config) { c.OffHours.UsualShare = 1.5 },
			"behaviours.off_hours.usual_share: 1.5 is not less than 1"},
		{"signal", func(c *Config) { c.DeviceSignals.Signals = []string{"jailbroken"} },
			`behaviours.device_signals.signals[0]: "jailbroken" is not one of emulator|rooted|hook_framework`},
		{"device kind", func(c *Config) { c.DeviceSignals.Kinds = []event.DeviceKind{"unlock"} },
			`behaviours.device_signals.kinds[0]: "unlock" is not one of login|register`},
		{"face failures", func(c *Config) { c.FaceVerifyFailures.Failures = 1 },
			"behaviours.face_verify_failures.failures: 1 is not between 2 and 1000"},
		{"sim swap followed by sim change", func(c *Config) { c.SIMSwap.FollowedBy = []event.DeviceKind{event.KindSIMChange} },
			`behaviours.sim_swap.followed_by[0]: "sim_change" is not a device kind other than sim_change`},
		{"window too short", func(c *Config) { c.DeviceManyAccounts.Window = time.Second },
			"behaviours.device_many_accounts.window: 1s is shorter than 1m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Defaults()
			c.mod(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate: %v\nwant %q", err, c.want)
			}
			if _, err := New(cfg); err == nil {
				t.Error("New accepted an invalid configuration")
			}
		})
	}
	// Every problem is reported at once.
	cfg := Defaults()
	cfg.ActorBaseline.MinEvents = -1
	cfg.SIMSwap.Window = -1
	if err := cfg.Validate(); err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("two problems: %v", err)
	}
}

func nan() float64 { return math.NaN() }
