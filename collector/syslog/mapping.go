package syslog

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/vigil-audit/vigil/internal/event"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultSDID is the SD-ID whose params carry event fields when
// MappingOptions.SDID is empty. 32473 is the example enterprise number
// that IANA reserves for documentation (RFC 5612); an organisation with
// its own private enterprise number should configure vigil@<its number>.
const DefaultSDID = "vigil@32473"

// Event kinds, as ToJSON returns them and as the "kind" param and
// MappingOptions.Kind name them.
const (
	KindAccess = "access" // vigil.access.v1
	KindDevice = "device" // vigil.device.v1
)

// MappingOptions say how ToJSON turns a syslog message into an event. It is
// the `syslog.mapping:` section of the configuration.
type MappingOptions struct {
	// SDID is the SD-ID whose params name event fields. Empty means
	// DefaultSDID (vigil@32473).
	SDID string `yaml:"sd_id"`

	// Kind is the event kind, access or device, of messages that do not
	// say it themselves (with a kind param or an MSGID of access or
	// device). Empty means such messages are rejected.
	Kind string `yaml:"kind"`
}

func (o MappingOptions) sdid() string {
	if o.SDID == "" {
		return DefaultSDID
	}
	return o.SDID
}

// validate checks o, naming keys under prefix ("syslog.mapping.").
func (o MappingOptions) validate(prefix string) []error {
	var errs []error
	if o.SDID != "" {
		_, err := sdName([]byte(o.SDID), 0, "SD-ID")
		reason := ""
		switch {
		case err != nil:
			reason = err.(*ParseError).Reason
		case len(o.SDID) != tokenEnd([]byte(o.SDID), 0) || strings.ContainsRune(o.SDID, ']'):
			reason = "not allowed in an SD-ID: ' ' or ']'"
		default:
			reason = checkSDID([]byte(o.SDID))
		}
		if reason != "" {
			errs = append(errs, fmt.Errorf("%ssd_id: %q: %s", prefix, o.SDID, reason))
		}
	}
	if o.Kind != "" && o.Kind != KindAccess && o.Kind != KindDevice {
		errs = append(errs, fmt.Errorf("%skind: %q is not one of access|device", prefix, o.Kind))
	}
	return errs
}

// ErrNoEvent is wrapped by ToJSON's error for a message that carries
// neither a JSON body nor the configured SD element: it holds no event.
var ErrNoEvent = errors.New("no event in the message")

// fieldType is the JSON type a param value becomes.
type fieldType uint8

const (
	typeString fieldType = iota
	typeInt              // a JSON integer
	typeFloat            // a JSON number
	typeBool             // true or false
	typeList             // comma-separated, a JSON array of strings
)

func (t fieldType) String() string {
	return [...]string{"string", "int", "float", "bool", "list", "time"}[t]
}

// fieldTypes gives, per event kind, the JSON type of every event field
// that is not a JSON string, by its dotted path. Every other param becomes
// a JSON string.
//
// Vigil's event package (internal/event, access.go and device.go) is the
// authority on fields and their types: when it adds a field that is not a
// string, add it here. TestFieldTypesMatchEvent walks the event types and
// fails when this table disagrees with them. Note that relationship is a
// string ("true", "false" or "unknown"), not a bool.
var fieldTypes = map[string]map[string]fieldType{
	KindAccess: {
		"categories":       typeList,
		"record_count":     typeInt,
		"subject.minor":    typeBool,
		"subject.vip":      typeBool,
		"subject.employee": typeBool,
		"client.geo.lat":   typeFloat,
		"client.geo.lon":   typeFloat,
	},
	KindDevice: {
		"signals.emulator":         typeBool,
		"signals.rooted":           typeBool,
		"signals.hook_framework":   typeBool,
		"signals.debugger":         typeBool,
		"signals.app_tampered":     typeBool,
		"signals.proxy_or_vpn":     typeBool,
		"signals.multi_open":       typeBool,
		"signals.location_spoofed": typeBool,
		"signals.remote_control":   typeBool,
		"location.lat":             typeFloat,
		"location.lon":             typeFloat,
		"location.accuracy_m":      typeFloat,
	},
}

// Params with a meaning of their own in the SD element.
const (
	paramKind       = "kind"        // picks the event kind; not copied
	paramDeviceKind = "device_kind" // a device event's own kind field
	paramAttrs      = "attrs."      // prefix: the rest is an attrs key, verbatim
)

// Attrs keys that ToJSON fills from the syslog header.
const (
	AttrHostname = "syslog.hostname"
	AttrAppName  = "syslog.app_name"
)

// ToJSON turns a parsed message into an event's JSON for Vigil's event
// decoder (internal/event DecodeAccess or DecodeDevice, chosen by kind).
// It checks only what the mapping needs; the decoder validates the event.
// The package documentation describes the mapping.
//
// When the message body (Msg) is a JSON object — its first byte after an
// optional BOM and white space is '{' — body is Msg from that '{' on, byte
// for byte, not a copy; the SD element may then carry the kind param and
// nothing else. Otherwise the params of the SD element named by
// opts.SDID become the event, and Msg is not used.
//
// The kind is, in this order, the SD element's kind param, the MSGID when
// it is access or device, or opts.Kind.
func ToJSON(m Message, opts MappingOptions) (kind string, body []byte, err error) {
	sdid := opts.sdid()
	var el *SDElement
	for i := range m.StructuredData {
		if m.StructuredData[i].ID == sdid {
			if el != nil {
				return "", nil, mapErr(sdid, "", "the element appears twice")
			}
			el = &m.StructuredData[i]
		}
	}
	var kindParam *SDParam
	others := 0
	if el != nil {
		for i := range el.Params {
			if el.Params[i].Name != paramKind {
				others++
				continue
			}
			if kindParam != nil {
				return "", nil, mapErr(sdid, paramKind, "repeated")
			}
			kindParam = &el.Params[i]
		}
	}
	kind, err = pickKind(kindParam, m.MsgID, opts.Kind, sdid)
	body = jsonBody(m.Msg)
	switch {
	case body != nil && others > 0:
		return "", nil, mapErr(sdid, "", "the message has a JSON body and event fields in ["+sdid+"]; send one or the other")
	case body == nil && el == nil:
		return "", nil, fmt.Errorf("syslog: mapping: %w: want a JSON object as the message or a [%s] element", ErrNoEvent, sdid)
	case err != nil:
		return "", nil, err
	case body != nil:
		return kind, body, nil
	}
	body, err = sdToJSON(m, el, kind, sdid)
	if err != nil {
		return "", nil, err
	}
	return kind, body, nil
}

// pickKind chooses the event kind: the kind param, else an MSGID of
// access or device, else the configured default.
func pickKind(p *SDParam, msgID, def, sdid string) (string, error) {
	if p != nil {
		switch p.Value {
		case KindAccess, KindDevice:
			return p.Value, nil
		}
		return "", mapErr(sdid, paramKind, "not one of access|device (a device event's own kind goes in "+paramDeviceKind+")")
	}
	if msgID == KindAccess || msgID == KindDevice {
		return msgID, nil
	}
	if def != "" {
		return def, nil
	}
	return "", fmt.Errorf("syslog: mapping: no event kind: add kind=\"access\" or kind=\"device\" to [%s], send MSGID access or device, or configure syslog.mapping.kind", sdid)
}

// jsonBody returns msg from its first '{' on when msg is a JSON object
// after an optional BOM and white space, or nil.
func jsonBody(msg []byte) []byte {
	b := bytes.TrimPrefix(msg, utf8BOM)
	for i, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return b[i:]
		}
		return nil
	}
	return nil
}

// mapErr reports a problem with the SD element or one of its params. It
// never quotes a value: values may hold personal data.
func mapErr(sdid, param, reason string) error {
	if param == "" {
		return fmt.Errorf("syslog: mapping: [%s]: %s", sdid, reason)
	}
	return fmt.Errorf("syslog: mapping: [%s] param %q: %s", sdid, param, reason)
}

// jnode is a JSON value under construction: an object (kids) or a leaf,
// whose value is encoded when the object is written out.
type jnode struct {
	key   string
	kids  []*jnode
	leaf  bool
	typ   fieldType
	val   string    // a scalar leaf's param value
	items []string  // a typeList leaf's items
	t     time.Time // a typeTime leaf's time
}

func (n *jnode) child(key string) *jnode {
	for _, k := range n.kids {
		if k.key == key {
			return k
		}
	}
	return nil
}

// typeTime marks the occurred_at leaf filled from the syslog timestamp.
const typeTime = typeList + 1

// maxPathSegments bounds the dotted path of a param: an SD-NAME has at
// most 32 bytes, so at most 16 segments.
const maxPathSegments = 16

// sdToJSON builds the event object from the SD element's params.
func sdToJSON(m Message, el *SDElement, kind, sdid string) ([]byte, error) {
	types := fieldTypes[kind]
	size := 96 + len(m.Hostname) + len(m.AppName)
	pool := make([]jnode, 0, len(el.Params)+6) // leaves, a few objects, occurred_at, attrs
	node := func(n jnode) *jnode {
		if len(pool) == cap(pool) {
			p := new(jnode)
			*p = n
			return p
		}
		pool = append(pool, n)
		return &pool[len(pool)-1]
	}
	root := node(jnode{kids: make([]*jnode, 0, len(el.Params)+2)})
	for i := range el.Params {
		name, value := el.Params[i].Name, el.Params[i].Value
		size += len(name) + len(value) + 8
		fail := func(reason string) error { return mapErr(sdid, name, reason) }
		if !utf8.ValidString(value) {
			return nil, fail("value is not valid UTF-8")
		}
		var buf [maxPathSegments]string
		path := buf[:0]
		switch {
		case name == paramKind:
			continue
		case name == paramDeviceKind:
			if kind != KindDevice {
				return nil, fail("only for device events")
			}
			path = append(path, "kind")
		case strings.HasPrefix(name, paramAttrs):
			key := name[len(paramAttrs):]
			if key == "" {
				return nil, fail("want attrs.<key>")
			}
			if key == AttrHostname || key == AttrAppName {
				return nil, fail("reserved: filled from the syslog header")
			}
			path = append(path, "attrs", key)
		case name == "attrs":
			return nil, fail("want attrs.<key>, one param per key")
		default:
			for rest, more := name, true; more; {
				var seg string
				seg, rest, more = strings.Cut(rest, ".")
				if !isFieldName(seg) {
					return nil, fail("not an event field path (names of a-z, 0-9 and _ joined by dots)")
				}
				path = append(path, seg)
			}
		}
		var ft fieldType
		if path[0] != "attrs" {
			ft = types[name]
		}
		// Walk to the parent object, creating objects on the way.
		parent := root
		for j, seg := range path[:len(path)-1] {
			c := parent.child(seg)
			if c == nil {
				c = node(jnode{key: seg})
				parent.kids = append(parent.kids, c)
			} else if c.leaf {
				return nil, fail(strconv.Quote(strings.Join(path[:j+1], ".")) + " is also given a value of its own")
			}
			parent = c
		}
		last := path[len(path)-1]
		leaf := parent.child(last)
		switch {
		case leaf != nil && !leaf.leaf:
			return nil, fail("also the parent of other params")
		case leaf != nil && leaf.typ != typeList:
			return nil, fail("repeated")
		case leaf == nil:
			leaf = node(jnode{key: last, leaf: true, typ: ft, val: value})
			parent.kids = append(parent.kids, leaf)
		}
		if err := checkValue(leaf, value); err != nil {
			return nil, fail(err.Error())
		}
	}
	if root.child("occurred_at") == nil && !m.Timestamp.IsZero() {
		root.kids = append(root.kids, node(jnode{key: "occurred_at", leaf: true, typ: typeTime, t: m.Timestamp}))
	}
	if m.Hostname != "" || m.AppName != "" {
		attrs := root.child("attrs")
		if attrs == nil {
			attrs = node(jnode{key: "attrs"})
			root.kids = append(root.kids, attrs)
		}
		for _, kv := range [2][2]string{{AttrHostname, m.Hostname}, {AttrAppName, m.AppName}} {
			if kv[1] != "" {
				attrs.kids = append(attrs.kids, node(jnode{key: kv[0], leaf: true, val: kv[1]}))
			}
		}
	}
	return root.appendTo(make([]byte, 0, size)), nil
}

// checkValue checks a param value against its leaf's type; a typeList
// leaf gets the value's items added.
func checkValue(leaf *jnode, s string) error {
	switch leaf.typ {
	case typeInt:
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return errors.New("not an integer")
		}
	case typeFloat:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(s, "xXpP_") {
			return errors.New("not a decimal number")
		}
	case typeBool:
		if s != "true" && s != "false" {
			return errors.New("not true or false")
		}
	case typeList:
		if s == "" {
			return nil
		}
		for item := range strings.SplitSeq(s, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				return errors.New("empty item in the comma-separated list")
			}
			leaf.items = append(leaf.items, item)
		}
	}
	return nil
}

// appendTo writes n as JSON. Values were checked by checkValue.
func (n *jnode) appendTo(b []byte) []byte {
	if n.leaf {
		switch n.typ {
		case typeInt:
			v, _ := strconv.ParseInt(n.val, 10, 64)
			return strconv.AppendInt(b, v, 10)
		case typeFloat:
			f, _ := strconv.ParseFloat(n.val, 64)
			return strconv.AppendFloat(b, f, 'g', -1, 64)
		case typeBool:
			return append(b, n.val...)
		case typeList:
			b = append(b, '[')
			for i, item := range n.items {
				if i > 0 {
					b = append(b, ',')
				}
				b = event.AppendJSONString(b, item)
			}
			return append(b, ']')
		case typeTime:
			b = append(b, '"')
			b = n.t.UTC().AppendFormat(b, time.RFC3339Nano)
			return append(b, '"')
		}
		return event.AppendJSONString(b, n.val)
	}
	b = append(b, '{')
	for i, k := range n.kids {
		if i > 0 {
			b = append(b, ',')
		}
		b = event.AppendJSONString(b, k.key)
		b = append(b, ':')
		b = k.appendTo(b)
	}
	return append(b, '}')
}

// isFieldName reports whether s is a JSON field name of the event schema:
// lower-case letters, digits and '_'.
func isFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || isDigit(c) || c == '_') {
			return false
		}
	}
	return true
}
