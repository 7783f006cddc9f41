package sigma

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigil-audit/vigil/internal/event"
)

// Event is the input of matching: exactly one of Access and Device is set.
// It is passed by value; build one with Access or Device.
type Event struct {
	Access *event.AccessEvent
	Device *event.DeviceEvent
}

// Access wraps an access event for matching.
func Access(e *event.AccessEvent) Event { return Event{Access: e} }

// Device wraps a device event for matching.
func Device(e *event.DeviceEvent) Event { return Event{Device: e} }

// Service returns the logsource service of the event, or "" when neither
// event is set.
func (e Event) Service() Service {
	switch {
	case e.Access != nil:
		return ServiceAccess
	case e.Device != nil:
		return ServiceDevice
	}
	return ""
}

// Org returns the tenant of the event.
func (e Event) Org() string {
	switch {
	case e.Access != nil:
		return e.Access.Org
	case e.Device != nil:
		return e.Device.Org
	}
	return ""
}

// Service is the logsource service a rule applies to: which of Vigil's
// event streams it reads. Every rule's logsource has product "vigil".
type Service string

// Services.
const (
	ServiceAccess Service = "access" // vigil.access.v1, event.AccessEvent
	ServiceDevice Service = "device" // vigil.device.v1, event.DeviceEvent
)

// Product is the logsource product of every Vigil rule.
const Product = "vigil"

// FieldType is the type of an event field as rules see it. It decides
// which values and modifiers a field accepts.
type FieldType int

// Field types.
const (
	TypeString   FieldType = iota + 1 // text or identifier
	TypeEnum                          // a string with a fixed set of values
	TypeIP                            // a string holding an IPv4 or IPv6 address
	TypeBool                          // true or false
	TypeNumber                        // an integer or decimal number
	TypeTime                          // an instant (RFC 3339 in UTC on the wire)
	TypeEnumList                      // a list of enum strings
)

// String returns the type's name as docs/RULES.md writes it.
func (t FieldType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeEnum:
		return "enum"
	case TypeIP:
		return "ip"
	case TypeBool:
		return "bool"
	case TypeNumber:
		return "number"
	case TypeTime:
		return "time"
	case TypeEnumList:
		return "list of enum"
	}
	return "unknown"
}

// stringLike reports whether values of the type are strings to the string
// modifiers (contains, startswith, endswith, re, cased).
func (t FieldType) stringLike() bool {
	return t == TypeString || t == TypeEnum || t == TypeIP || t == TypeEnumList
}

// AttrsPrefix starts the field path of an attrs entry: "attrs.ward" reads
// the event's attrs["ward"].
const AttrsPrefix = "attrs."

// FieldInfo describes one field of the taxonomy.
type FieldInfo struct {
	// Path is the field's JSON path, e.g. "actor.role". The attrs map is
	// listed as "attrs.<key>".
	Path string
	// Type is the field's type.
	Type FieldType
	// Values lists the values of an enum field (or of the elements of an
	// enum list), in schema order; nil for other types.
	Values []string
	// Doc says what the field holds and when it is absent.
	Doc string
}

// field is a compiled field path: its description and accessors. Exactly
// the accessor of the field's type is set (str for string, enum and ip);
// present is always set.
type field struct {
	FieldInfo
	service Service
	str     func(Event) string
	num     func(Event) float64
	boolean func(Event) bool
	when    func(Event) time.Time
	list    func(Event) []event.Category
	// lo and hi bound the present values of a number field; a comparison
	// that no value in range satisfies is a load error.
	lo, hi float64
	// present reports whether the event has a value: a non-empty string,
	// list or time, a number other than 0 (0 means "not reported") or a set
	// pointer, an attrs key in the map. Bools are always present.
	present func(Event) bool
}

// Fields returns the taxonomy of a service in documentation order: every
// field path a rule of that service may use, with "attrs.<key>" standing
// for the attrs entries. It returns nil for an unknown service.
func Fields(s Service) []FieldInfo {
	var fs []*field
	switch s {
	case ServiceAccess:
		fs = accessFields
	case ServiceDevice:
		fs = deviceFields
	default:
		return nil
	}
	out := make([]FieldInfo, 0, len(fs)+1)
	for _, f := range fs {
		out = append(out, f.FieldInfo)
	}
	return append(out, FieldInfo{Path: AttrsPrefix + "<key>", Type: TypeString,
		Doc: "attrs[key]; absent when the key is not in attrs. Keys are 1-64 bytes of [A-Za-z0-9._:-]"})
}

// lookupField returns the compiled field of path for service s, or nil.
func lookupField(s Service, path string) *field {
	if key, ok := strings.CutPrefix(path, AttrsPrefix); ok {
		if !validAttrKey(key) {
			return nil
		}
		return attrField(s, key)
	}
	var fs []*field
	switch s {
	case ServiceAccess:
		fs = accessFields
	case ServiceDevice:
		fs = deviceFields
	}
	for _, f := range fs {
		if f.Path == path {
			return f
		}
	}
	return nil
}

// fieldPaths lists the field paths of service s, for suggestions.
func fieldPaths(s Service) []string {
	var fs []*field
	switch s {
	case ServiceAccess:
		fs = accessFields
	case ServiceDevice:
		fs = deviceFields
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Path
	}
	return out
}

func validAttrKey(k string) bool {
	if k == "" || len(k) > event.MaxAttrKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

func attrField(s Service, key string) *field {
	f := &field{FieldInfo: FieldInfo{Path: AttrsPrefix + key, Type: TypeString}, service: s}
	if s == ServiceAccess {
		f.str = func(e Event) string { return e.Access.Attrs[key] }
		f.present = func(e Event) bool { _, ok := e.Access.Attrs[key]; return ok }
	} else {
		f.str = func(e Event) string { return e.Device.Attrs[key] }
		f.present = func(e Event) bool { _, ok := e.Device.Attrs[key]; return ok }
	}
	return f
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

func nonEmpty(f func(Event) string) func(Event) bool {
	return func(e Event) bool { return f(e) != "" }
}

// Constructors of the taxonomy's fields; each sets the accessor of its
// type and present.

func strField(s Service, path, doc string, get func(Event) string) *field {
	return &field{FieldInfo: FieldInfo{Path: path, Type: TypeString, Doc: doc}, service: s, str: get, present: nonEmpty(get)}
}

func ipField(s Service, path, doc string, get func(Event) string) *field {
	return &field{FieldInfo: FieldInfo{Path: path, Type: TypeIP, Doc: doc}, service: s, str: get, present: nonEmpty(get)}
}

func enumField(s Service, path, doc string, values []string, get func(Event) string) *field {
	return &field{FieldInfo: FieldInfo{Path: path, Type: TypeEnum, Values: values, Doc: doc}, service: s, str: get, present: nonEmpty(get)}
}

func boolField(s Service, path, doc string, get func(Event) bool) *field {
	return &field{FieldInfo: FieldInfo{Path: path, Type: TypeBool, Doc: doc}, service: s, boolean: get,
		present: func(Event) bool { return true }}
}

func numField(s Service, path, doc string, lo, hi float64, get func(Event) float64, present func(Event) bool) *field {
	return &field{FieldInfo: FieldInfo{Path: path, Type: TypeNumber, Doc: doc}, service: s, num: get, present: present, lo: lo, hi: hi}
}

// Ranges of the present values of number fields. record_count and
// accuracy_m are absent when 0, so their present values start above it.
const (
	minRecordCount = 1
	minAccuracyM   = math.SmallestNonzeroFloat64
)

func timeField(s Service, path, doc string, get func(Event) time.Time) *field {
	return &field{FieldInfo: FieldInfo{Path: path, Type: TypeTime, Doc: doc}, service: s, when: get,
		present: func(e Event) bool { return !get(e).IsZero() }}
}

// outcomes of access and device events, as strings.
var (
	accessOutcomes = strs(event.AccessOutcomes())
	deviceOutcomes = strs(event.DeviceOutcomes())
)

const (
	docEventID    = "idempotency key of the event"
	docOccurredAt = "when it happened (read with time modifiers in the org's time zone)"
	docReceivedAt = "when the collector accepted the event (read with time modifiers in the org's time zone)"
	docSource     = "the system that logged the event, set by the collector"
	docOrg        = "tenant: hospital, clinic, business unit"
)

var accessFields = []*field{
	strField(ServiceAccess, "event_id", docEventID, func(e Event) string { return e.Access.EventID }),
	timeField(ServiceAccess, "occurred_at", docOccurredAt, func(e Event) time.Time { return e.Access.OccurredAt.Time }),
	timeField(ServiceAccess, "received_at", docReceivedAt, func(e Event) time.Time { return e.Access.ReceivedAt.Time }),
	strField(ServiceAccess, "source", docSource, func(e Event) string { return e.Access.Source }),
	strField(ServiceAccess, "org", docOrg, func(e Event) string { return e.Access.Org }),
	strField(ServiceAccess, "actor.id", "who accessed the data: staff number, service account, user token", func(e Event) string { return e.Access.Actor.ID }),
	enumField(ServiceAccess, "actor.type", "kind of actor", strs(event.ActorTypes()), func(e Event) string { return string(e.Access.Actor.Type) }),
	strField(ServiceAccess, "actor.role", "the actor's role in the source system (nurse, billing, …)", func(e Event) string { return e.Access.Actor.Role }),
	strField(ServiceAccess, "actor.department", "the actor's department or unit", func(e Event) string { return e.Access.Actor.Department }),
	enumField(ServiceAccess, "action", "what the actor did", strs(event.Actions()), func(e Event) string { return string(e.Access.Action) }),
	strField(ServiceAccess, "subject.id", "token of the person whose data was accessed; absent for some logins", func(e Event) string { return e.Access.Subject.ID }),
	enumField(ServiceAccess, "subject.type", "kind of person whose data was accessed", strs(event.SubjectTypes()), func(e Event) string { return string(e.Access.Subject.Type) }),
	boolField(ServiceAccess, "subject.minor", "the subject is a child under 14", func(e Event) bool { return e.Access.Subject.Minor }),
	boolField(ServiceAccess, "subject.vip", "the subject is flagged for heightened protection", func(e Event) bool { return e.Access.Subject.VIP }),
	boolField(ServiceAccess, "subject.employee", "the subject is an employee of the org", func(e Event) bool { return e.Access.Subject.Employee }),
	{
		FieldInfo: FieldInfo{Path: "categories", Type: TypeEnumList, Values: strs(event.Categories()),
			Doc: "data categories touched; a value matches when any element matches"},
		service: ServiceAccess,
		list:    func(e Event) []event.Category { return e.Access.Categories },
		present: func(e Event) bool { return len(e.Access.Categories) > 0 },
	},
	numField(ServiceAccess, "record_count", "records touched, 0 to 10^12; absent (0) when not reported", minRecordCount, event.MaxRecordCount,
		func(e Event) float64 { return float64(e.Access.RecordCount) },
		func(e Event) bool { return e.Access.RecordCount != 0 }),
	strField(ServiceAccess, "purpose", "the stated reason for the access, free text", func(e Event) string { return e.Access.Purpose }),
	enumField(ServiceAccess, "relationship", "does the actor have a care or service relationship with the subject", strs(event.Relationships()), func(e Event) string { return string(e.Access.Relationship) }),
	enumField(ServiceAccess, "outcome", "result of the access", accessOutcomes, func(e Event) string { return string(e.Access.Outcome) }),
	ipField(ServiceAccess, "client.ip", "the client's IP address", func(e Event) string { return e.Access.Client.IP }),
	strField(ServiceAccess, "client.user_agent", "the client's user agent", func(e Event) string { return e.Access.Client.UserAgent }),
	strField(ServiceAccess, "client.device_id", "token of the client device", func(e Event) string { return e.Access.Client.DeviceID }),
	strField(ServiceAccess, "client.geo.country", "ISO 3166-1 alpha-2 code in upper case (CN)", func(e Event) string { return e.Access.Client.Geo.Country }),
	strField(ServiceAccess, "client.geo.region", "province or state", func(e Event) string { return e.Access.Client.Geo.Region }),
	strField(ServiceAccess, "client.geo.city", "city", func(e Event) string { return e.Access.Client.Geo.City }),
	numField(ServiceAccess, "client.geo.lat", "latitude in degrees, coarsened; absent when not reported", -90, 90,
		func(e Event) float64 { return derefFloat(e.Access.Client.Geo.Lat) },
		func(e Event) bool { return e.Access.Client.Geo.Lat != nil }),
	numField(ServiceAccess, "client.geo.lon", "longitude in degrees, coarsened; absent when not reported", -180, 180,
		func(e Event) float64 { return derefFloat(e.Access.Client.Geo.Lon) },
		func(e Event) bool { return e.Access.Client.Geo.Lon != nil }),
	strField(ServiceAccess, "session_id", "the source system's session id", func(e Event) string { return e.Access.SessionID }),
	strField(ServiceAccess, "request_id", "the source system's request id", func(e Event) string { return e.Access.RequestID }),
}

func derefFloat(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func signal(path, doc string, get func(s *event.Signals) bool) *field {
	return boolField(ServiceDevice, "signals."+path, doc, func(e Event) bool { return get(&e.Device.Signals) })
}

var deviceFields = []*field{
	strField(ServiceDevice, "event_id", docEventID, func(e Event) string { return e.Device.EventID }),
	timeField(ServiceDevice, "occurred_at", docOccurredAt, func(e Event) time.Time { return e.Device.OccurredAt.Time }),
	timeField(ServiceDevice, "received_at", docReceivedAt, func(e Event) time.Time { return e.Device.ReceivedAt.Time }),
	strField(ServiceDevice, "source", docSource, func(e Event) string { return e.Device.Source }),
	strField(ServiceDevice, "org", docOrg, func(e Event) string { return e.Device.Org }),
	strField(ServiceDevice, "account_id", "token of the account", func(e Event) string { return e.Device.AccountID }),
	strField(ServiceDevice, "device_id", "token of the device", func(e Event) string { return e.Device.DeviceID }),
	enumField(ServiceDevice, "kind", "what the account did", strs(event.DeviceKinds()), func(e Event) string { return string(e.Device.Kind) }),
	strField(ServiceDevice, "device.model", "manufacturer model (SM-G9910)", func(e Event) string { return e.Device.Device.Model }),
	strField(ServiceDevice, "device.os", "operating system (android, ios, harmonyos)", func(e Event) string { return e.Device.Device.OS }),
	strField(ServiceDevice, "device.os_version", "operating system version", func(e Event) string { return e.Device.Device.OSVersion }),
	strField(ServiceDevice, "device.app_version", "version of the reporting app", func(e Event) string { return e.Device.Device.AppVersion }),
	signal("emulator", "runs in an emulator", func(s *event.Signals) bool { return s.Emulator }),
	signal("rooted", "rooted or jailbroken", func(s *event.Signals) bool { return s.Rooted }),
	signal("hook_framework", "Xposed, Frida or similar present", func(s *event.Signals) bool { return s.HookFramework }),
	signal("debugger", "a debugger is attached", func(s *event.Signals) bool { return s.Debugger }),
	signal("app_tampered", "the app's signature or code was modified", func(s *event.Signals) bool { return s.AppTampered }),
	signal("proxy_or_vpn", "traffic goes through a proxy or VPN", func(s *event.Signals) bool { return s.ProxyOrVPN }),
	signal("multi_open", "the app runs in a cloning or multi-open container", func(s *event.Signals) bool { return s.MultiOpen }),
	signal("location_spoofed", "a mock-location provider is active", func(s *event.Signals) bool { return s.LocationSpoofed }),
	signal("remote_control", "screen sharing or a remote-control app is active", func(s *event.Signals) bool { return s.RemoteControl }),
	ipField(ServiceDevice, "network.ip", "the device's public IP address", func(e Event) string { return e.Device.Network.IP }),
	strField(ServiceDevice, "network.carrier", "mobile carrier name or MCC-MNC", func(e Event) string { return e.Device.Network.Carrier }),
	strField(ServiceDevice, "network.wifi_bssid", "token of the Wi-Fi access point", func(e Event) string { return e.Device.Network.WiFiBSSID }),
	numField(ServiceDevice, "location.lat", "latitude in degrees, coarsened; absent without a location", -90, 90,
		func(e Event) float64 {
			if e.Device.Location == nil {
				return 0
			}
			return e.Device.Location.Lat
		},
		func(e Event) bool { return e.Device.Location != nil }),
	numField(ServiceDevice, "location.lon", "longitude in degrees, coarsened; absent without a location", -180, 180,
		func(e Event) float64 {
			if e.Device.Location == nil {
				return 0
			}
			return e.Device.Location.Lon
		},
		func(e Event) bool { return e.Device.Location != nil }),
	numField(ServiceDevice, "location.accuracy_m", "radius of uncertainty in metres; absent (0) when not reported", minAccuracyM, event.MaxAccuracyM,
		func(e Event) float64 {
			if e.Device.Location == nil {
				return 0
			}
			return e.Device.Location.AccuracyM
		},
		func(e Event) bool { return e.Device.Location != nil && e.Device.Location.AccuracyM != 0 }),
	enumField(ServiceDevice, "outcome", "result: failure means the user failed a check", deviceOutcomes, func(e Event) string { return string(e.Device.Outcome) }),
}

// enumHas reports whether some value of an enum field matches p.
func enumHas(values []string, p *strPattern) bool {
	return slices.ContainsFunc(values, p.match)
}
