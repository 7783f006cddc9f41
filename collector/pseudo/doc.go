// Package pseudo pseudonymises events in the collector: it replaces
// identifiers of people and devices with keyed HMAC tokens, coarsens
// locations and, if asked, truncates IP addresses, so that no raw
// identifier goes past the collector unless an operator explicitly allows
// a field. It also scrubs rejected input for dead letters (ScrubRaw).
//
// # Tokens
//
// A token is a namespace prefix, an underscore and the first 20 bytes
// (160 bits) of an HMAC in lowercase unpadded RFC 4648 base32 — 34 ASCII
// characters in all:
//
//	token = prefix "_" base32lower(HMAC-SHA256(key, namespace || 0x00 || value)[:20])
//	p_4k2x…  (32 characters of a-z and 2-7 after the underscore)
//
// The same key, namespace and value give the same token in every process,
// on every host, after every restart: tokens join across events, topics and
// time. Without the key a token cannot be reversed or recomputed; the
// notifier resolves tokens to contact details through its directory, not
// through this package.
//
// # Namespaces
//
// The namespace is the first input to the HMAC, so it decides what joins:
// equal values in one namespace get equal tokens, and equal values in two
// namespaces get unrelated ones.
//
//	namespace  HMAC name  prefix  fields
//	Person     "person"   p_      subject.id (every subject.type); account_id;
//	                              actor.id with tokenise_actor;
//	                              person attrs (phone, email, id_number, …)
//	Device     "device"   d_      device_id; client.device_id;
//	                              device attrs (imei, imsi, android_id, idfa, oaid, mac, …)
//	Network    "network"  n_      network.wifi_bssid; network attrs (bssid, ssid, …)
//
// A person's subject.id in an access event and the same person's
// account_id in a device event share the person namespace, so the detector
// can join them when the source systems use the same identifier; a device
// id and an IMEI share the device namespace. Tokens are not scoped by org
// or by subject.type: where identifiers are only unique within a tenant,
// consumers join on org and token.
//
// Token normalises a value before hashing, so that the usual spellings of
// one identifier give one token: a MAC address (aa:bb:cc:dd:ee:ff, either
// case, ':' or '-') becomes lower case with colons; a mainland mobile
// number with a +86, 0086 or 86 prefix or in 3-4-4 groups (spaces or
// dashes) becomes its 11 digits; an 18-character ID number ending in x gets
// X; an e-mail address becomes ASCII lower case. Nothing else is changed.
// Another implementation computing tokens (to build a contact directory,
// say) must normalise the same way.
//
// # Idempotence
//
// A value that already has the shape of a token of the field's namespace
// (its prefix, "_", 32 characters of [a-z2-7]) is left alone, so an event
// sent through a second collector, or pseudonymised twice, is not hashed
// twice: applying Access or Device twice is applying it once. The shape is
// all that can be checked. The trade-off: a raw value that looks exactly
// like a token passes through unchanged. No phone number, ID number, IMEI
// or MAC address can have that shape (it has no 0, 1, 8 or 9 and is 34
// characters with an underscore), so only an identifier invented to look
// like a token could pass.
//
// # Fields
//
// Access events: subject.id (person), client.device_id (device) and
// identifier attrs are tokenised; actor.id is kept raw, because it is a
// staff or service identifier that investigations need, unless
// tokenise_actor is true (person namespace); client.ip is kept raw for
// network-based detection unless ip_prefix is true (then /24 for IPv4,
// /48 for IPv6); client.geo.lat and .lon are rounded.
//
// Device events: account_id (person), device_id (device),
// network.wifi_bssid (network) and identifier attrs are tokenised;
// network.ip as client.ip; location.lat and .lon are rounded and
// location.accuracy_m is raised to at least the rounding error.
//
// Identifier attrs are attrs entries whose key's last dot-separated
// segment, compared case-insensitively, is in the built-in list
// (DefaultIdentifierAttrs: phone, mobile, id_number, id_card, passport,
// email, imei, imsi, android_id, idfa, oaid, mac, wifi_mac, bssid and more)
// or in identifier_attrs: "risk.IMEI" and "imei" are both device
// identifiers. Other attrs, and free text (purpose, user_agent), are not
// searched for identifiers: senders must not put identifiers there.
//
// Empty fields stay empty (absent).
//
// # Configuration
//
// The `pseudonymise:` section is Config; Defaults holds its defaults, and
// Validate names the key of every problem ("pseudonymise.allow_raw[1]:
// …"):
//
//	pseudonymise:
//	  key_file: /etc/vigil/pseudonymise.key  # or VIGIL_PSEUDONYMISE_KEY(_FILE); see Keys
//	  allow_raw: [client.device_id]           # identifier fields kept raw, explicitly
//	  identifier_attrs: [member_no, router=network]  # added to the built-in list
//	  tokenise_actor: false                   # true: actor.id becomes a person token
//	  ip_prefix: false                        # true: client.ip, network.ip to /24 or /48
//	  geo_decimals: 2                         # 0-6; 0 is whole degrees, not "default"
//
// # Allow-list
//
// allow_raw lists fields an operator explicitly allows to pass raw:
// subject.id, client.device_id, account_id, device_id, network.wifi_bssid
// and attrs.NAME for an identifier attr. Validate rejects anything else —
// a misspelt field, a field that is not an identifier, actor.id (governed
// by tokenise_actor) — so a typo cannot silently keep an identifier raw or
// silently do nothing.
//
// # Coordinates
//
// Latitude and longitude are rounded (half away from zero) to
// geo_decimals places, 0 to 6; Defaults sets 2. The size of the grid,
// north-south (east-west shrinks with the cosine of the latitude), and the
// largest error, which is what accuracy_m is raised to:
//
//	geo_decimals  grid step  ≈ grid size  largest error (accuracy_m)
//	0             1°         111 km       78 716 m
//	1             0.1°       11.1 km      7 872 m
//	2             0.01°      1.11 km      788 m
//	3             0.001°     111 m        79 m
//	4             0.0001°    11.1 m       7.9 m
//	5             0.00001°   1.11 m       0.79 m
//	6             0.000001°  0.11 m       0.08 m
//
// Rounding keeps ±90 and ±180 in range and never produces -0.
//
// # Keys
//
// The HMAC key is at least 32 random bytes, written as hex or base64.
// `vigil collect` refuses to start without one (LoadKey): it comes from
// VIGIL_PSEUDONYMISE_KEY, or from a file named by
// VIGIL_PSEUDONYMISE_KEY_FILE or pseudonymise.key_file, which must be
// readable by its owner only (chmod 600). `vigil up` creates one on first
// start (EnsureKeyFile). Every instance of the collector must use the same
// key. Key material is never logged or printed: Key and Pseudonymiser
// print as the key's ID, the first 8 hex digits of its SHA-256, which tells
// operators which key is in use.
//
// Rotation: a new key gives every identifier a new token. Events
// pseudonymised before and after no longer join — baselines, correlations
// and "seen before" checks in the detector restart from nothing, and
// incidents cannot link old and new events of one person — and the
// notifier's directory must be rebuilt for the new tokens. There is no
// mapping between the two, by design. Do not rotate without a plan; rotate
// when the key is exposed, and then accept the break in history (keep the
// old key offline if old tokens must still be resolved).
//
// # Dead letters
//
// ScrubRaw prepares a rejected input for the dead-letter topic. First it
// tokenises values at identifier paths: by the rules above when the input
// is valid JSON (keys in any case, values of any type, objects under
// unknown keys read as wrapped events, identifier attr names recognised at
// any depth), otherwise by a lenient scan for `"key": value` and
// `key=value`. Then it replaces what looks like an identifier anywhere in
// the text — ID numbers, mobile numbers, 15-digit IMEIs, MAC addresses,
// e-mail addresses — with tokens, keeping anything shaped like a token.
// Last it cuts the result to a size limit on a UTF-8 boundary and appends
// "…[truncated N bytes]"; cutting after scrubbing means no identifier is
// left half-recognised at the cut. ScrubText applies the pattern pass
// alone to other text that leaves the collector, such as problems that
// quote a sender's values.
//
// What ScrubRaw guarantees: it never panics, it never modifies its input,
// the output is at most the limit plus the marker, it is valid UTF-8 when
// the input was, it is valid JSON when the input was and nothing was cut,
// and scrubbing its output again changes nothing. What it does not: the
// pattern search is best-effort defence in depth. An identifier without a
// recognisable shape outside a recognised key (a bare account number in
// free text), or written with full-width digits or JSON escapes in a
// non-JSON line, stays as it is; numbers that only look like identifiers
// (an 18-digit order number) are replaced. Fields that pass raw in events
// (actor.id by default, allow_raw) pass raw in JSON dead letters too.
package pseudo
