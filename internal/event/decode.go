package event

import (
	"strconv"
)

// badValue stands in a decoded list or map for an element whose value could
// not be read (wrong type, bad encoding), keeping the indexes of the other
// elements. Decoded strings are always valid UTF-8, so it cannot collide
// with input. Validation skips it.
const badValue = "\xff"

// decodeAccess decodes data into e. Afterwards d.probs hold every syntax
// and type problem found; validation runs only when d.fatal is false.
// (decodeAccess and decodeDevice are twins rather than one function taking
// a callback: calling a func value would move the decoder to the heap.)
func (d *decoder) decodeAccess(data []byte, e *AccessEvent) {
	defer d.recoverStop()
	if d.begin(data) {
		d.accessEvent(e)
		d.end()
	}
}

// decodeDevice decodes data into e, like decodeAccess.
func (d *decoder) decodeDevice(data []byte, e *DeviceEvent) {
	defer d.recoverStop()
	if d.begin(data) {
		d.deviceEvent(e)
		d.end()
	}
}

// recoverStop ends the unwinding started by stop. It must be deferred
// directly.
func (d *decoder) recoverStop() {
	if r := recover(); r != nil {
		if _, ok := r.(stopDecoding); !ok {
			panic(r)
		}
	}
}

// begin checks the size of data and that it starts with an object, and
// reports whether decoding can go on.
func (d *decoder) begin(data []byte) bool {
	d.data = data
	d.path = make([]byte, 0, 128)
	if len(data) > MaxEventSize {
		d.probs = Problems{{Reason: strconv.Itoa(len(data)) + " bytes, more than the limit of " + strconv.Itoa(MaxEventSize)}}
		d.fatal = true
		return false
	}
	d.skipWS()
	switch c := d.peek(); {
	case d.pos == len(data):
		d.stop("empty input, want a JSON object")
	case c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' || isDigit(c):
		d.stop("not a JSON object")
	case c != '{':
		d.unexpected("a JSON object")
	}
	return true
}

// end checks that nothing but white space follows the object.
func (d *decoder) end() {
	d.skipWS()
	if d.pos != len(d.data) {
		d.syntax(d.pos, "data after the JSON object")
	}
}

// member starts reading the known field f named name: it pushes name on the
// path and returns the length to pop. For a repeated key it reports
// "duplicate key", skips the value and returns ok false.
func (d *decoder) member(f field, name string) (mark int, ok bool) {
	mark = d.pushField(name)
	if d.fs.has(f) {
		d.add("duplicate key")
		d.skipValue()
		d.pop(mark)
		return 0, false
	}
	d.fs.present |= 1 << f
	return mark, true
}

// object starts reading field f, which must be a JSON object; the caller
// reads its members with nextMember and then pops mark.
func (d *decoder) object(f field, name string) (mark int, ok bool) {
	mark, ok = d.member(f, name)
	if !ok {
		return 0, false
	}
	if d.peek() != '{' {
		d.wrongType("object")
		d.fs.setBad(f)
		d.pop(mark)
		return 0, false
	}
	d.enter()
	return mark, true
}

// array starts reading field f, which must be a JSON array.
func (d *decoder) array(f field, name string) (mark int, ok bool) {
	mark, ok = d.member(f, name)
	if !ok {
		return 0, false
	}
	if d.peek() != '[' {
		d.wrongType("array")
		d.fs.setBad(f)
		d.pop(mark)
		return 0, false
	}
	d.enter()
	return mark, true
}

// unknown reports the current member as an unknown field and skips it.
func (d *decoder) unknown() {
	n := d.pushKey(d.key)
	d.add("unknown field")
	d.skipValue()
	d.pop(n)
}

func (d *decoder) strField(f field, name string, dst *string) {
	if m, ok := d.member(f, name); ok {
		if !d.str(dst) {
			d.fs.setBad(f)
		}
		d.pop(m)
	}
}

func enumField[T ~string](d *decoder, f field, name string, dst *T, list []T) {
	if m, ok := d.member(f, name); ok {
		if !enumStr(d, dst, list) {
			d.fs.setBad(f)
		}
		d.pop(m)
	}
}

func (d *decoder) boolField(f field, name string, dst *bool) {
	if m, ok := d.member(f, name); ok {
		if !d.boolean(dst) {
			d.fs.setBad(f)
		}
		d.pop(m)
	}
}

func (d *decoder) timeField(f field, name string, dst *Timestamp) {
	if m, ok := d.member(f, name); ok {
		if !d.timestamp(dst) {
			d.fs.setBad(f)
		}
		d.pop(m)
	}
}

func (d *decoder) floatField(f field, name string, dst *float64) {
	if m, ok := d.member(f, name); ok {
		if !d.float(dst) {
			d.fs.setBad(f)
		}
		d.pop(m)
	}
}

// floatPtrField reads an optional number into a new float64.
func (d *decoder) floatPtrField(f field, name string, dst **float64) {
	if m, ok := d.member(f, name); ok {
		var v float64
		if d.float(&v) {
			*dst = &v
		} else {
			d.fs.setBad(f)
		}
		d.pop(m)
	}
}

// attrs reads the attrs object. A value that cannot be read is kept as
// badValue so that its key is still checked.
func (d *decoder) attrs(f field, dst *map[string]string) {
	m, ok := d.object(f, "attrs")
	if !ok {
		return
	}
	attrs := make(map[string]string)
	for first := true; d.nextMember(&first); {
		n := d.pushKey(d.key)
		if _, dup := attrs[string(d.key)]; dup {
			d.add("duplicate key")
			d.skipValue()
		} else {
			key := string(d.key)
			v := badValue
			if !d.str(&v) {
				v = badValue
			}
			attrs[key] = v
		}
		d.pop(n)
	}
	*dst = attrs
	d.pop(m)
}

// Fields of AccessEvent, for fieldSet.
const (
	aEventID field = iota
	aOccurredAt
	aReceivedAt
	aSource
	aOrg
	aActor
	aActorID
	aActorType
	aActorRole
	aActorDepartment
	aAction
	aSubject
	aSubjectID
	aSubjectType
	aSubjectMinor
	aSubjectVIP
	aSubjectEmployee
	aCategories
	aRecordCount
	aPurpose
	aRelationship
	aOutcome
	aClient
	aClientIP
	aClientUserAgent
	aClientDeviceID
	aGeo
	aGeoCountry
	aGeoRegion
	aGeoCity
	aGeoLat
	aGeoLon
	aSessionID
	aRequestID
	aAttrs
)

// accessEvent decodes the object at d.pos into e.
func (d *decoder) accessEvent(e *AccessEvent) {
	d.enter()
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "event_id":
			d.strField(aEventID, "event_id", &e.EventID)
		case "occurred_at":
			d.timeField(aOccurredAt, "occurred_at", &e.OccurredAt)
		case "received_at":
			d.timeField(aReceivedAt, "received_at", &e.ReceivedAt)
		case "source":
			d.strField(aSource, "source", &e.Source)
		case "org":
			d.strField(aOrg, "org", &e.Org)
		case "actor":
			if m, ok := d.object(aActor, "actor"); ok {
				d.actor(&e.Actor)
				d.pop(m)
			}
		case "action":
			enumField(d, aAction, "action", &e.Action, actions)
		case "subject":
			if m, ok := d.object(aSubject, "subject"); ok {
				d.subject(&e.Subject)
				d.pop(m)
			}
		case "categories":
			d.categories(aCategories, &e.Categories)
		case "record_count":
			if m, ok := d.member(aRecordCount, "record_count"); ok {
				if !d.integer(&e.RecordCount, 0, MaxRecordCount) {
					d.fs.setBad(aRecordCount)
				}
				d.pop(m)
			}
		case "purpose":
			d.strField(aPurpose, "purpose", &e.Purpose)
		case "relationship":
			enumField(d, aRelationship, "relationship", &e.Relationship, relationships)
		case "outcome":
			enumField(d, aOutcome, "outcome", &e.Outcome, accessOutcomes)
		case "client":
			if m, ok := d.object(aClient, "client"); ok {
				d.client(&e.Client)
				d.pop(m)
			}
		case "session_id":
			d.strField(aSessionID, "session_id", &e.SessionID)
		case "request_id":
			d.strField(aRequestID, "request_id", &e.RequestID)
		case "attrs":
			d.attrs(aAttrs, &e.Attrs)
		default:
			d.unknown()
		}
	}
	if !d.fs.has(aRelationship) {
		e.Relationship = RelationshipUnknown
	}
}

func (d *decoder) actor(a *Actor) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "id":
			d.strField(aActorID, "id", &a.ID)
		case "type":
			enumField(d, aActorType, "type", &a.Type, actorTypes)
		case "role":
			d.strField(aActorRole, "role", &a.Role)
		case "department":
			d.strField(aActorDepartment, "department", &a.Department)
		default:
			d.unknown()
		}
	}
}

func (d *decoder) subject(s *Subject) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "id":
			d.strField(aSubjectID, "id", &s.ID)
		case "type":
			enumField(d, aSubjectType, "type", &s.Type, subjectTypes)
		case "minor":
			d.boolField(aSubjectMinor, "minor", &s.Minor)
		case "vip":
			d.boolField(aSubjectVIP, "vip", &s.VIP)
		case "employee":
			d.boolField(aSubjectEmployee, "employee", &s.Employee)
		default:
			d.unknown()
		}
	}
}

// categories reads the categories array. An element that cannot be read is
// kept as badValue so that the others keep their indexes.
func (d *decoder) categories(f field, dst *[]Category) {
	m, ok := d.array(f, "categories")
	if !ok {
		return
	}
	list := make([]Category, 0, 4)
	for i, first := 0, true; d.nextElem(&first); i++ {
		n := d.pushIndex(i)
		var c Category
		if !enumStr(d, &c, categories) {
			c = badValue
		}
		list = append(list, c)
		d.pop(n)
	}
	*dst = list
	d.pop(m)
}

func (d *decoder) client(c *Client) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "ip":
			d.strField(aClientIP, "ip", &c.IP)
		case "user_agent":
			d.strField(aClientUserAgent, "user_agent", &c.UserAgent)
		case "device_id":
			d.strField(aClientDeviceID, "device_id", &c.DeviceID)
		case "geo":
			if m, ok := d.object(aGeo, "geo"); ok {
				d.geo(&c.Geo)
				d.pop(m)
			}
		default:
			d.unknown()
		}
	}
}

func (d *decoder) geo(g *Geo) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "country":
			d.strField(aGeoCountry, "country", &g.Country)
		case "region":
			d.strField(aGeoRegion, "region", &g.Region)
		case "city":
			d.strField(aGeoCity, "city", &g.City)
		case "lat":
			d.floatPtrField(aGeoLat, "lat", &g.Lat)
		case "lon":
			d.floatPtrField(aGeoLon, "lon", &g.Lon)
		default:
			d.unknown()
		}
	}
}

// Fields of DeviceEvent, for fieldSet.
const (
	dEventID field = iota
	dOccurredAt
	dReceivedAt
	dSource
	dOrg
	dAccountID
	dDeviceID
	dKind
	dDevice
	dDeviceModel
	dDeviceOS
	dDeviceOSVersion
	dDeviceAppVersion
	dSignals
	dSigEmulator
	dSigRooted
	dSigHookFramework
	dSigDebugger
	dSigAppTampered
	dSigProxyOrVPN
	dSigMultiOpen
	dSigLocationSpoofed
	dSigRemoteControl
	dNetwork
	dNetworkIP
	dNetworkCarrier
	dNetworkWiFiBSSID
	dLocation
	dLocationLat
	dLocationLon
	dLocationAccuracy
	dOutcome
	dAttrs
)

// deviceEvent decodes the object at d.pos into e.
func (d *decoder) deviceEvent(e *DeviceEvent) {
	d.enter()
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "event_id":
			d.strField(dEventID, "event_id", &e.EventID)
		case "occurred_at":
			d.timeField(dOccurredAt, "occurred_at", &e.OccurredAt)
		case "received_at":
			d.timeField(dReceivedAt, "received_at", &e.ReceivedAt)
		case "source":
			d.strField(dSource, "source", &e.Source)
		case "org":
			d.strField(dOrg, "org", &e.Org)
		case "account_id":
			d.strField(dAccountID, "account_id", &e.AccountID)
		case "device_id":
			d.strField(dDeviceID, "device_id", &e.DeviceID)
		case "kind":
			enumField(d, dKind, "kind", &e.Kind, deviceKinds)
		case "device":
			if m, ok := d.object(dDevice, "device"); ok {
				d.device(&e.Device)
				d.pop(m)
			}
		case "signals":
			if m, ok := d.object(dSignals, "signals"); ok {
				d.signals(&e.Signals)
				d.pop(m)
			}
		case "network":
			if m, ok := d.object(dNetwork, "network"); ok {
				d.network(&e.Network)
				d.pop(m)
			}
		case "location":
			if m, ok := d.object(dLocation, "location"); ok {
				e.Location = new(Location)
				d.location(e.Location)
				d.pop(m)
			}
		case "outcome":
			enumField(d, dOutcome, "outcome", &e.Outcome, deviceOutcomes)
		case "attrs":
			d.attrs(dAttrs, &e.Attrs)
		default:
			d.unknown()
		}
	}
}

func (d *decoder) device(v *Device) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "model":
			d.strField(dDeviceModel, "model", &v.Model)
		case "os":
			d.strField(dDeviceOS, "os", &v.OS)
		case "os_version":
			d.strField(dDeviceOSVersion, "os_version", &v.OSVersion)
		case "app_version":
			d.strField(dDeviceAppVersion, "app_version", &v.AppVersion)
		default:
			d.unknown()
		}
	}
}

func (d *decoder) signals(s *Signals) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "emulator":
			d.boolField(dSigEmulator, "emulator", &s.Emulator)
		case "rooted":
			d.boolField(dSigRooted, "rooted", &s.Rooted)
		case "hook_framework":
			d.boolField(dSigHookFramework, "hook_framework", &s.HookFramework)
		case "debugger":
			d.boolField(dSigDebugger, "debugger", &s.Debugger)
		case "app_tampered":
			d.boolField(dSigAppTampered, "app_tampered", &s.AppTampered)
		case "proxy_or_vpn":
			d.boolField(dSigProxyOrVPN, "proxy_or_vpn", &s.ProxyOrVPN)
		case "multi_open":
			d.boolField(dSigMultiOpen, "multi_open", &s.MultiOpen)
		case "location_spoofed":
			d.boolField(dSigLocationSpoofed, "location_spoofed", &s.LocationSpoofed)
		case "remote_control":
			d.boolField(dSigRemoteControl, "remote_control", &s.RemoteControl)
		default:
			d.unknown()
		}
	}
}

func (d *decoder) network(n *Network) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "ip":
			d.strField(dNetworkIP, "ip", &n.IP)
		case "carrier":
			d.strField(dNetworkCarrier, "carrier", &n.Carrier)
		case "wifi_bssid":
			d.strField(dNetworkWiFiBSSID, "wifi_bssid", &n.WiFiBSSID)
		default:
			d.unknown()
		}
	}
}

func (d *decoder) location(l *Location) {
	for first := true; d.nextMember(&first); {
		switch string(d.key) {
		case "lat":
			d.floatField(dLocationLat, "lat", &l.Lat)
		case "lon":
			d.floatField(dLocationLon, "lon", &l.Lon)
		case "accuracy_m":
			d.floatField(dLocationAccuracy, "accuracy_m", &l.AccuracyM)
		default:
			d.unknown()
		}
	}
}
