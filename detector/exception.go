package detector

import (
	"path"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/event"
)

// accessFields and deviceFields read the fields an Exception may name.
var accessFields = map[string]func(*event.AccessEvent) string{
	"org":                func(e *event.AccessEvent) string { return e.Org },
	"source":             func(e *event.AccessEvent) string { return e.Source },
	"actor.id":           func(e *event.AccessEvent) string { return e.Actor.ID },
	"actor.type":         func(e *event.AccessEvent) string { return string(e.Actor.Type) },
	"actor.role":         func(e *event.AccessEvent) string { return e.Actor.Role },
	"actor.department":   func(e *event.AccessEvent) string { return e.Actor.Department },
	"action":             func(e *event.AccessEvent) string { return string(e.Action) },
	"subject.id":         func(e *event.AccessEvent) string { return e.Subject.ID },
	"subject.type":       func(e *event.AccessEvent) string { return string(e.Subject.Type) },
	"purpose":            func(e *event.AccessEvent) string { return e.Purpose },
	"relationship":       func(e *event.AccessEvent) string { return string(e.Relationship) },
	"outcome":            func(e *event.AccessEvent) string { return string(e.Outcome) },
	"client.ip":          func(e *event.AccessEvent) string { return e.Client.IP },
	"client.device_id":   func(e *event.AccessEvent) string { return e.Client.DeviceID },
	"client.geo.country": func(e *event.AccessEvent) string { return e.Client.Geo.Country },
	"client.geo.region":  func(e *event.AccessEvent) string { return e.Client.Geo.Region },
	"client.geo.city":    func(e *event.AccessEvent) string { return e.Client.Geo.City },
	"session_id":         func(e *event.AccessEvent) string { return e.SessionID },
}

var deviceFields = map[string]func(*event.DeviceEvent) string{
	"org":                func(e *event.DeviceEvent) string { return e.Org },
	"source":             func(e *event.DeviceEvent) string { return e.Source },
	"account_id":         func(e *event.DeviceEvent) string { return e.AccountID },
	"device_id":          func(e *event.DeviceEvent) string { return e.DeviceID },
	"kind":               func(e *event.DeviceEvent) string { return string(e.Kind) },
	"device.model":       func(e *event.DeviceEvent) string { return e.Device.Model },
	"device.os":          func(e *event.DeviceEvent) string { return e.Device.OS },
	"device.os_version":  func(e *event.DeviceEvent) string { return e.Device.OSVersion },
	"device.app_version": func(e *event.DeviceEvent) string { return e.Device.AppVersion },
	"network.ip":         func(e *event.DeviceEvent) string { return e.Network.IP },
	"network.carrier":    func(e *event.DeviceEvent) string { return e.Network.Carrier },
	"network.wifi_bssid": func(e *event.DeviceEvent) string { return e.Network.WiFiBSSID },
	"outcome":            func(e *event.DeviceEvent) string { return string(e.Outcome) },
}

func knownExceptionField(f string) bool {
	if k, ok := strings.CutPrefix(f, sigma.AttrsPrefix); ok {
		return k != ""
	}
	_, a := accessFields[f]
	_, d := deviceFields[f]
	return a || d
}

// exception is a compiled Exception.
type exception struct {
	index   int // in Options.Exceptions
	cfg     Exception
	expires int64 // unix ms
	fields  []exceptionField
}

type exceptionField struct {
	path   string
	attr   string // attrs key, when path is attrs.<key>
	values []string
}

func compileExceptions(es []Exception) []*exception {
	out := make([]*exception, len(es))
	for i, e := range es {
		x := &exception{index: i, cfg: e, expires: e.Expires.UnixMilli()}
		for _, p := range sortedKeys(e.Fields) {
			f := exceptionField{path: p, values: e.Fields[p]}
			f.attr, _ = strings.CutPrefix(p, sigma.AttrsPrefix)
			if f.attr == p {
				f.attr = ""
			}
			x.fields = append(x.fields, f)
		}
		out[i] = x
	}
	return out
}

// appliesTo reports whether the exception's rule pattern matches ruleID.
func (x *exception) appliesTo(ruleID string) bool {
	ok, err := path.Match(x.cfg.Rule, ruleID)
	return ok && err == nil
}

// matches reports whether the finding h, triggered by ev (zero for a window
// closed by the watermark), is excepted.
func (x *exception) matches(h *hit, ev sigma.Event) bool {
	if h.end >= x.expires {
		return false
	}
	if len(x.cfg.Orgs) > 0 && !slices.Contains(x.cfg.Orgs, h.org) {
		return false
	}
	if len(x.cfg.Actors) > 0 && !slices.Contains(x.cfg.Actors, h.actor) {
		return false
	}
	if len(x.cfg.Devices) > 0 && !slices.Contains(x.cfg.Devices, h.device) {
		return false
	}
	if len(x.cfg.Roles) > 0 && (ev.Access == nil || !slices.Contains(x.cfg.Roles, ev.Access.Actor.Role)) {
		return false
	}
	for _, f := range x.fields {
		v, ok := f.value(ev)
		if !ok || !slices.Contains(f.values, v) {
			return false
		}
	}
	return true
}

func (f *exceptionField) value(ev sigma.Event) (string, bool) {
	switch {
	case ev.Access != nil:
		if f.attr != "" {
			v, ok := ev.Access.Attrs[f.attr]
			return v, ok
		}
		get, ok := accessFields[f.path]
		if !ok {
			return "", false
		}
		return get(ev.Access), true
	case ev.Device != nil:
		if f.attr != "" {
			v, ok := ev.Device.Attrs[f.attr]
			return v, ok
		}
		get, ok := deviceFields[f.path]
		if !ok {
			return "", false
		}
		return get(ev.Device), true
	}
	return "", false
}

// Suppressed reports findings an Exception kept from becoming alerts,
// coalesced per exception, rule and group between two DrainSuppressed
// calls. The runner logs each with slog.
type Suppressed struct {
	// Exception is the index of the exception in Options.Exceptions;
	// Reason and Author are its own.
	Exception int
	Reason    string
	Author    string
	Expires   time.Time
	RuleID    string
	GroupKey  string
	// Count is how many findings were suppressed; First and Last are the
	// earliest start and latest end of their events.
	Count       int64
	First, Last time.Time
}
