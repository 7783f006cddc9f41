package event

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Validator decodes and validates events. Its zero value is ready to use,
// with the real clock and DefaultMaxFutureSkew; the package-level
// DecodeAccess, DecodeDevice, ValidateAccess and ValidateDevice use it. A
// Validator is safe for concurrent use.
//
// There are two levels of validity:
//
//   - Input, as senders post it (DecodeAccess, DecodeDevice): event_id,
//     source and received_at are optional, since the collector sets them;
//     relationship is optional and an absent one is recorded as "unknown".
//   - Bus, as stages exchange it on Kafka (ValidateAccess, ValidateDevice):
//     every field the collector sets is required as well.
//
// Everything else is the same at both levels and is published as the JSON
// Schemas of Schema. The Go validator also checks what JSON Schema cannot
// express: duplicate keys, invalid UTF-8 and unpaired surrogates, lengths in
// bytes rather than characters, timestamps within 1970–2099 and not too far
// in the future, and the size and nesting of the input.
type Validator struct {
	// Now returns the current time for the future-skew check; nil means
	// time.Now.
	Now func() time.Time
	// MaxFutureSkew is how far ahead of Now a timestamp may be. Zero means
	// DefaultMaxFutureSkew; a negative value turns the check off.
	MaxFutureSkew time.Duration
}

var defaultValidator Validator

// DecodeAccess decodes one access event, a single JSON object, as a sender
// posts it, and validates it with the zero Validator. See
// Validator.DecodeAccess.
func DecodeAccess(data []byte) (AccessEvent, Problems) { return defaultValidator.DecodeAccess(data) }

// DecodeDevice decodes one device event, a single JSON object, as a sender
// posts it, and validates it with the zero Validator. See
// Validator.DecodeDevice.
func DecodeDevice(data []byte) (DeviceEvent, Problems) { return defaultValidator.DecodeDevice(data) }

// ValidateAccess validates an access event as it must be on the bus, with
// the zero Validator. See Validator.ValidateAccess.
func ValidateAccess(e AccessEvent) Problems { return defaultValidator.ValidateAccess(e) }

// ValidateDevice validates a device event as it must be on the bus, with
// the zero Validator. See Validator.ValidateDevice.
func ValidateDevice(e DeviceEvent) Problems { return defaultValidator.ValidateDevice(e) }

// DecodeAccess decodes data, which must hold exactly one JSON object, into
// an access event and validates it at the input level. It returns every
// problem found, sorted; none means the event is valid. Timestamps are
// normalised to UTC milliseconds and an absent relationship becomes
// RelationshipUnknown.
//
// A syntax error, input over MaxEventSize or nesting over MaxDepth is
// reported alone, since nothing after it can be read reliably. When there
// are problems, the returned event holds what could be decoded, for
// diagnostics only.
func (v Validator) DecodeAccess(data []byte) (AccessEvent, Problems) {
	var e AccessEvent
	var d decoder
	d.decodeAccess(data, &e)
	if !d.fatal {
		c := v.checker(&d, false)
		c.access(&e)
	}
	return e, d.result()
}

// DecodeDevice decodes data, which must hold exactly one JSON object, into
// a device event and validates it at the input level, like DecodeAccess.
func (v Validator) DecodeDevice(data []byte) (DeviceEvent, Problems) {
	var e DeviceEvent
	var d decoder
	d.decodeDevice(data, &e)
	if !d.fatal {
		c := v.checker(&d, false)
		c.device(&e)
	}
	return e, d.result()
}

// ValidateAccess validates an access event at the bus level: the input
// rules plus event_id, source, received_at and relationship required. Use
// it on events built in code (the simulator, tests) and before producing
// to vigil.access.v1.
func (v Validator) ValidateAccess(e AccessEvent) Problems {
	var d decoder
	d.fs = accessPresence(&e)
	c := v.checker(&d, true)
	c.access(&e)
	return d.result()
}

// ValidateDevice validates a device event at the bus level: the input
// rules plus event_id, source and received_at required.
func (v Validator) ValidateDevice(e DeviceEvent) Problems {
	var d decoder
	d.fs = devicePresence(&e)
	c := v.checker(&d, true)
	c.device(&e)
	return d.result()
}

// result returns the problems, with one more for those beyond
// MaxProblems, sorted.
func (d *decoder) result() Problems {
	if d.more > 0 {
		d.probs = append(d.probs, Problem{Reason: strconv.Itoa(d.more) + " more problems not shown"})
	}
	return d.probs.normalize()
}

// checker applies the value rules to a decoded or built event, reporting
// to a decoder's problem list.
type checker struct {
	*decoder
	// bus is set for ValidateAccess and ValidateDevice: the event was built
	// in code, not decoded, so collector-set fields are required, strings
	// may be invalid UTF-8, and "present" means non-zero (see
	// accessPresence).
	bus     bool
	now     time.Time
	maxSkew time.Duration // negative: no check
}

func (v Validator) checker(d *decoder, bus bool) checker {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxFutureSkew
	if skew == 0 {
		skew = DefaultMaxFutureSkew
	}
	return checker{decoder: d, bus: bus, now: now(), maxSkew: skew}
}

// String classes: the longest value and whether control characters are
// allowed.
type strClass struct {
	maxLen    int
	tooLong   string
	noControl bool
}

var (
	classID    = strClass{MaxIDLen, "longer than " + strconv.Itoa(MaxIDLen) + " bytes", true}
	classLabel = strClass{MaxStringLen, "longer than " + strconv.Itoa(MaxStringLen) + " bytes", true}
	classText  = strClass{MaxTextLen, "longer than " + strconv.Itoa(MaxTextLen) + " bytes", false}
)

// missing reports a required field that is absent or empty.
func (c *checker) missing(f field, path string) {
	if c.fs.has(f) && !c.bus {
		c.addAt(path, "must not be empty")
		return
	}
	c.addAt(path, "required")
}

// str checks a string field. An empty optional string is the same as an
// absent one.
func (c *checker) str(f field, path, v string, cl strClass, required bool) {
	if c.fs.isBad(f) {
		return
	}
	if v == "" {
		if required {
			c.missing(f, path)
		}
		return
	}
	c.strValue(path, v, cl)
}

func (c *checker) strValue(path, v string, cl strClass) {
	if c.bus && !utf8.ValidString(v) {
		c.addAt(path, "invalid UTF-8")
		return
	}
	if len(v) > cl.maxLen {
		c.addAt(path, cl.tooLong)
	}
	if cl.noControl {
		for i := 0; i < len(v); i++ {
			if b := v[i]; b < 0x20 || b == 0x7f {
				c.addAt(path, "contains control character U+"+strings.ToUpper(strconv.FormatUint(uint64(b)|0x10000, 16)[1:]))
				break
			}
		}
	}
}

// enum checks a field whose value must be one of list; names is list
// joined by "|".
func enum[T ~string](c *checker, f field, path string, v T, list []T, names string, required bool) {
	if c.fs.isBad(f) {
		return
	}
	if v == "" && (c.bus || !c.fs.has(f)) {
		if required {
			c.addAt(path, "required")
		}
		return
	}
	if !slices.Contains(list, v) {
		c.addAt(path, quoteValue(string(v))+" is not one of "+names)
	}
}

var (
	actorTypeNames    = joinNames(actorTypes)
	actionNames       = joinNames(actions)
	subjectTypeNames  = joinNames(subjectTypes)
	categoryNames     = joinNames(categories)
	relationshipNames = joinNames(relationships)
	accessOutNames    = joinNames(accessOutcomes)
	deviceOutNames    = joinNames(deviceOutcomes)
	deviceKindNames   = joinNames(deviceKinds)
)

func joinNames[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, "|")
}

// quoteValue quotes outside input for a problem, cut to a readable length
// on a rune boundary.
func quoteValue(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	q := strconv.Quote(s[:cut])
	return q[:len(q)-1] + `…"`
}

// eventID checks event_id: optional on input, required on the bus.
func (c *checker) eventID(f field, v string) {
	if c.fs.isBad(f) {
		return
	}
	if v == "" && (c.bus || !c.fs.has(f)) {
		if c.bus {
			c.addAt("event_id", "required")
		}
		return
	}
	if !validEventID(v) {
		c.addAt("event_id", "must be 1-"+strconv.Itoa(MaxEventIDLen)+" bytes of [A-Za-z0-9._:-]")
	}
}

func validEventID(v string) bool {
	if len(v) == 0 || len(v) > MaxEventIDLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !isIDByte(v[i]) {
			return false
		}
	}
	return true
}

var (
	minTimeText = NewTimestamp(minTime).String()
	maxTimeText = NewTimestamp(maxTime).String()
)

// timestamp checks a timestamp field: within 1970–2099 and not more than
// maxSkew ahead of now.
func (c *checker) timestamp(f field, path string, t Timestamp, required bool) {
	if c.fs.isBad(f) {
		return
	}
	if !c.fs.has(f) {
		if required {
			c.addAt(path, "required")
		}
		return
	}
	switch {
	case t.Before(minTime):
		c.addAt(path, "must not be before "+minTimeText)
	case !t.Before(maxTime):
		c.addAt(path, "must be before "+maxTimeText)
	case c.maxSkew >= 0 && t.Sub(c.now) > c.maxSkew:
		c.addAt(path, "more than "+c.maxSkew.String()+" in the future")
	}
}

// ip checks an optional IP address.
func (c *checker) ip(f field, path, v string) {
	if c.fs.isBad(f) || v == "" {
		return
	}
	if c.bus && !utf8.ValidString(v) {
		c.addAt(path, "invalid UTF-8")
		return
	}
	if a, err := netip.ParseAddr(v); err != nil || a.Zone() != "" {
		c.addAt(path, quoteValue(v)+" is not an IPv4 or IPv6 address")
	}
}

// between checks a number field's range.
func (c *checker) between(f field, path string, v, lo, hi float64) {
	if c.fs.isBad(f) {
		return
	}
	if !(v >= lo && v <= hi) {
		c.addAt(path, "must be between "+strconv.FormatFloat(lo, 'f', -1, 64)+" and "+strconv.FormatFloat(hi, 'f', -1, 64))
	}
}

// requiredNumber reports a number field that must be present.
func (c *checker) requiredNumber(f field, path string) {
	if !c.bus && !c.fs.has(f) && !c.fs.isBad(f) {
		c.addAt(path, "required")
	}
}

// attrs checks the attrs map; path is its path.
func (c *checker) attrs(f field, m map[string]string) {
	if c.fs.isBad(f) {
		return
	}
	if len(m) > MaxAttrs {
		c.addAt("attrs", "more than "+strconv.Itoa(MaxAttrs)+" entries")
	}
	for k, v := range m {
		if !plainKey(k) {
			c.addAt(string(appendKeyPath([]byte("attrs"), k)),
				"invalid key: want 1-"+strconv.Itoa(MaxAttrKeyLen)+" bytes of [A-Za-z0-9._:-]")
		}
		if c.bus || v != badValue {
			if c.bus && !utf8.ValidString(v) || len(v) > MaxTextLen {
				c.strValue(string(appendKeyPath([]byte("attrs"), k)), v, classText)
			}
		}
	}
}

// access applies the rules of an access event.
func (c *checker) access(e *AccessEvent) {
	c.eventID(aEventID, e.EventID)
	c.timestamp(aOccurredAt, "occurred_at", e.OccurredAt, true)
	c.timestamp(aReceivedAt, "received_at", e.ReceivedAt, c.bus)
	c.str(aSource, "source", e.Source, classID, c.bus)
	c.str(aOrg, "org", e.Org, classID, true)

	switch {
	case c.fs.isBad(aActor):
	case !c.fs.has(aActor):
		c.addAt("actor", "required")
	default:
		c.str(aActorID, "actor.id", e.Actor.ID, classID, true)
		enum(c, aActorType, "actor.type", e.Actor.Type, actorTypes, actorTypeNames, true)
		c.str(aActorRole, "actor.role", e.Actor.Role, classLabel, false)
		c.str(aActorDepartment, "actor.department", e.Actor.Department, classLabel, false)
	}

	enum(c, aAction, "action", e.Action, actions, actionNames, true)
	login := e.Action == ActionLogin

	// A login touches no one's data: subject and categories are optional.
	switch {
	case c.fs.isBad(aSubject):
	case c.fs.has(aSubject):
		c.str(aSubjectID, "subject.id", e.Subject.ID, classID, true)
		enum(c, aSubjectType, "subject.type", e.Subject.Type, subjectTypes, subjectTypeNames, true)
	case !login:
		c.addAt("subject", "required")
	}

	c.categories(e.Categories, login)

	if !c.fs.isBad(aRecordCount) {
		switch {
		case e.RecordCount < 0:
			c.addAt("record_count", "must be ≥ 0")
		case e.RecordCount > MaxRecordCount:
			c.addAt("record_count", "must be ≤ "+strconv.FormatInt(MaxRecordCount, 10))
		}
	}
	c.str(aPurpose, "purpose", e.Purpose, classText, false)
	if c.bus || c.fs.has(aRelationship) {
		enum(c, aRelationship, "relationship", e.Relationship, relationships, relationshipNames, true)
	}
	enum(c, aOutcome, "outcome", e.Outcome, accessOutcomes, accessOutNames, true)

	cl := &e.Client
	c.ip(aClientIP, "client.ip", cl.IP)
	c.str(aClientUserAgent, "client.user_agent", cl.UserAgent, classText, false)
	c.str(aClientDeviceID, "client.device_id", cl.DeviceID, classID, false)
	g := &cl.Geo
	if g.Country != "" && !c.fs.isBad(aGeoCountry) && !(len(g.Country) == 2 && isUpper(g.Country[0]) && isUpper(g.Country[1])) {
		c.addAt("client.geo.country", quoteValue(g.Country)+" is not an ISO 3166-1 alpha-2 code in upper case")
	}
	c.str(aGeoRegion, "client.geo.region", g.Region, classLabel, false)
	c.str(aGeoCity, "client.geo.city", g.City, classLabel, false)
	if g.Lat != nil {
		c.between(aGeoLat, "client.geo.lat", *g.Lat, -90, 90)
	}
	if g.Lon != nil {
		c.between(aGeoLon, "client.geo.lon", *g.Lon, -180, 180)
	}
	if g.Lat != nil && g.Lon == nil && !c.fs.isBad(aGeoLon) {
		c.addAt("client.geo.lon", "required when lat is set")
	}
	if g.Lon != nil && g.Lat == nil && !c.fs.isBad(aGeoLat) {
		c.addAt("client.geo.lat", "required when lon is set")
	}

	c.str(aSessionID, "session_id", e.SessionID, classID, false)
	c.str(aRequestID, "request_id", e.RequestID, classID, false)
	c.attrs(aAttrs, e.Attrs)
}

func isUpper(b byte) bool { return 'A' <= b && b <= 'Z' }

// categories checks the categories list: each a known category, none
// twice, at least one unless the action is a login.
func (c *checker) categories(list []Category, login bool) {
	if c.fs.isBad(aCategories) {
		return
	}
	if len(list) == 0 {
		if !login {
			if c.fs.has(aCategories) && (list != nil || !c.bus) {
				c.addAt("categories", "must not be empty")
			} else {
				c.addAt("categories", "required")
			}
		}
		return
	}
	var first [16]int // index+1 of each category's first occurrence
	for i, cat := range list {
		if cat == badValue && !c.bus {
			continue
		}
		k := slices.Index(categories, cat)
		switch {
		case k < 0:
			c.addAt("categories["+strconv.Itoa(i)+"]", quoteValue(string(cat))+" is not one of "+categoryNames)
		case first[k] != 0:
			c.addAt("categories["+strconv.Itoa(i)+"]", quoteValue(string(cat))+" repeats categories["+strconv.Itoa(first[k]-1)+"]")
		default:
			first[k] = i + 1
		}
	}
}

// device applies the rules of a device event.
func (c *checker) device(e *DeviceEvent) {
	c.eventID(dEventID, e.EventID)
	c.timestamp(dOccurredAt, "occurred_at", e.OccurredAt, true)
	c.timestamp(dReceivedAt, "received_at", e.ReceivedAt, c.bus)
	c.str(dSource, "source", e.Source, classID, c.bus)
	c.str(dOrg, "org", e.Org, classID, true)
	c.str(dAccountID, "account_id", e.AccountID, classID, true)
	c.str(dDeviceID, "device_id", e.DeviceID, classID, true)
	enum(c, dKind, "kind", e.Kind, deviceKinds, deviceKindNames, true)

	c.str(dDeviceModel, "device.model", e.Device.Model, classLabel, false)
	c.str(dDeviceOS, "device.os", e.Device.OS, classLabel, false)
	c.str(dDeviceOSVersion, "device.os_version", e.Device.OSVersion, classLabel, false)
	c.str(dDeviceAppVersion, "device.app_version", e.Device.AppVersion, classLabel, false)

	c.ip(dNetworkIP, "network.ip", e.Network.IP)
	c.str(dNetworkCarrier, "network.carrier", e.Network.Carrier, classLabel, false)
	c.str(dNetworkWiFiBSSID, "network.wifi_bssid", e.Network.WiFiBSSID, classID, false)

	if l := e.Location; l != nil {
		c.requiredNumber(dLocationLat, "location.lat")
		c.requiredNumber(dLocationLon, "location.lon")
		if c.bus || c.fs.has(dLocationLat) {
			c.between(dLocationLat, "location.lat", l.Lat, -90, 90)
		}
		if c.bus || c.fs.has(dLocationLon) {
			c.between(dLocationLon, "location.lon", l.Lon, -180, 180)
		}
		c.between(dLocationAccuracy, "location.accuracy_m", l.AccuracyM, 0, MaxAccuracyM)
	}

	enum(c, dOutcome, "outcome", e.Outcome, deviceOutcomes, deviceOutNames, true)
	c.attrs(dAttrs, e.Attrs)
}

// accessPresence marks the fields of a built event that are set.
func accessPresence(e *AccessEvent) fieldSet {
	var s fieldSet
	set := func(f field, ok bool) {
		if ok {
			s.present |= 1 << f
		}
	}
	set(aEventID, e.EventID != "")
	set(aOccurredAt, !e.OccurredAt.IsZero())
	set(aReceivedAt, !e.ReceivedAt.IsZero())
	set(aActor, e.Actor != Actor{})
	set(aSubject, e.Subject != Subject{})
	set(aCategories, e.Categories != nil)
	set(aRelationship, e.Relationship != "")
	return s
}

// devicePresence marks the fields of a built event that are set.
func devicePresence(e *DeviceEvent) fieldSet {
	var s fieldSet
	if !e.OccurredAt.IsZero() {
		s.present |= 1 << dOccurredAt
	}
	if !e.ReceivedAt.IsZero() {
		s.present |= 1 << dReceivedAt
	}
	return s
}
