package event

import "slices"

// DeviceEvent is one security-relevant step of an account on a device, as
// reported by a mobile risk SDK or an account system: what happened (Kind),
// on which device and account, with which risk signals, from which network
// and place, and the result (Outcome).
//
// As for AccessEvent, received_at and source are collector-set and
// event_id is assigned by the collector when absent.
type DeviceEvent struct {
	// EventID is the idempotency key (see AccessEvent.EventID).
	EventID string `json:"event_id,omitempty"`
	// OccurredAt is when it happened, by the device's or sender's clock.
	OccurredAt Timestamp `json:"occurred_at"`
	// ReceivedAt is when the collector accepted the event. Collector-set.
	ReceivedAt Timestamp `json:"received_at,omitzero"`
	// Source names the system that reported the event. Collector-set.
	Source string `json:"source,omitempty"`
	// Org is the tenant.
	Org string `json:"org"`
	// AccountID identifies the account. After the collector it is a keyed
	// HMAC token.
	AccountID string `json:"account_id"`
	// DeviceID identifies the device (from IMEI, Android ID, IDFV or the
	// SDK's own id). After the collector it is a keyed HMAC token.
	DeviceID string `json:"device_id"`
	// Kind is what the account did.
	Kind DeviceKind `json:"kind"`
	// Device describes the hardware and software.
	Device Device `json:"device,omitzero"`
	// Signals are the risk signals the SDK detected at the time.
	Signals Signals `json:"signals,omitzero"`
	// Network is how the device was connected.
	Network Network `json:"network,omitzero"`
	// Location is where the device was; nil when not reported. The
	// collector coarsens it to the configured precision.
	Location *Location `json:"location,omitempty"`
	// Outcome is the result: success, failure, denied or error.
	Outcome Outcome `json:"outcome"`
	// Attrs carries details without a field of their own (see
	// AccessEvent.Attrs).
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Key returns the Kafka record key of the event: the device token, so that
// one device's events stay in order on one partition.
func (e *DeviceEvent) Key() []byte { return []byte(e.DeviceID) }

// DeviceKind is what an account did on a device.
type DeviceKind string

// Device event kinds.
const (
	KindLogin         DeviceKind = "login"          // signed in
	KindRegister      DeviceKind = "register"       // created an account
	KindRealnameAuth  DeviceKind = "realname_auth"  // real-name verification against an ID
	KindFaceVerify    DeviceKind = "face_verify"    // face liveness or match check
	KindPayment       DeviceKind = "payment"        // paid
	KindPasswordReset DeviceKind = "password_reset" // reset the password
	KindSIMChange     DeviceKind = "sim_change"     // the device's SIM card changed
	KindLogout        DeviceKind = "logout"         // signed out
	KindBindCard      DeviceKind = "bind_card"      // bound a bank card
	KindChangePhone   DeviceKind = "change_phone"   // changed the account's phone number
)

// DeviceKinds lists every DeviceKind in schema order.
func DeviceKinds() []DeviceKind { return slices.Clone(deviceKinds) }

var deviceKinds = []DeviceKind{KindLogin, KindRegister, KindRealnameAuth, KindFaceVerify,
	KindPayment, KindPasswordReset, KindSIMChange, KindLogout, KindBindCard, KindChangePhone}

// Valid reports whether k is one of DeviceKinds.
func (k DeviceKind) Valid() bool { return slices.Contains(deviceKinds, k) }

// Device describes a device's hardware and software.
type Device struct {
	Model      string `json:"model,omitempty"`       // manufacturer model ("SM-G9910")
	OS         string `json:"os,omitempty"`          // operating system ("android", "ios", "harmonyos")
	OSVersion  string `json:"os_version,omitempty"`  // operating system version
	AppVersion string `json:"app_version,omitempty"` // version of the app reporting
}

// Signals are risk signals detected on a device. Each is true when detected;
// false means not detected or not checked.
type Signals struct {
	Emulator        bool `json:"emulator,omitempty"`         // runs in an emulator
	Rooted          bool `json:"rooted,omitempty"`           // rooted or jailbroken
	HookFramework   bool `json:"hook_framework,omitempty"`   // Xposed, Frida or similar present
	Debugger        bool `json:"debugger,omitempty"`         // a debugger is attached
	AppTampered     bool `json:"app_tampered,omitempty"`     // the app's signature or code was modified
	ProxyOrVPN      bool `json:"proxy_or_vpn,omitempty"`     // traffic goes through a proxy or VPN
	MultiOpen       bool `json:"multi_open,omitempty"`       // the app runs in a cloning/multi-open container
	LocationSpoofed bool `json:"location_spoofed,omitempty"` // a mock-location provider is active
	RemoteControl   bool `json:"remote_control,omitempty"`   // screen sharing or a remote-control app is active
}

// Network is how a device was connected.
type Network struct {
	// IP is the device's public IPv4 or IPv6 address, without zone.
	IP string `json:"ip,omitempty"`
	// Carrier is the mobile carrier's name or MCC-MNC.
	Carrier string `json:"carrier,omitempty"`
	// WiFiBSSID identifies the Wi-Fi access point. After the collector it
	// is a keyed HMAC token, never the raw MAC address.
	WiFiBSSID string `json:"wifi_bssid,omitempty"`
}

// Location is where a device was. Lat and Lon are required when a location
// is present.
type Location struct {
	Lat       float64 `json:"lat"`                  // latitude in degrees, -90 to 90
	Lon       float64 `json:"lon"`                  // longitude in degrees, -180 to 180
	AccuracyM float64 `json:"accuracy_m,omitempty"` // radius of uncertainty in metres; 0 means not reported
}
