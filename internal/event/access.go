package event

import "slices"

// AccessEvent is one access by a person or a service to personal
// information: who (Actor) did what (Action) to whose data (Subject, with
// the data Categories touched), when, from where (Client), why (Purpose) and
// with what result (Outcome).
//
// Field comments say "collector-set" for fields that the collector fills:
// they are optional in what senders post and required in an event on the
// bus (see Validator.ValidateAccess).
type AccessEvent struct {
	// EventID is the idempotency key: redelivery of the same event_id is the
	// same event. Optional from senders; the collector assigns NewEventID
	// when it is absent.
	EventID string `json:"event_id,omitempty"`
	// OccurredAt is when the access happened, by the sender's clock.
	OccurredAt Timestamp `json:"occurred_at"`
	// ReceivedAt is when the collector accepted the event. Collector-set.
	ReceivedAt Timestamp `json:"received_at,omitzero"`
	// Source names the system that logged the event. Collector-set, from
	// the sender's credentials; a value posted by a sender is replaced.
	Source string `json:"source,omitempty"`
	// Org is the tenant (hospital, clinic, business unit).
	Org string `json:"org"`
	// Actor is who accessed the data.
	Actor Actor `json:"actor"`
	// Action is what the actor did.
	Action Action `json:"action"`
	// Subject is the person whose data was accessed. It may be omitted for
	// ActionLogin only.
	Subject Subject `json:"subject,omitzero"`
	// Categories are the kinds of personal information touched, without
	// duplicates. At least one is required, except for ActionLogin.
	Categories []Category `json:"categories,omitempty"`
	// RecordCount is how many records the action touched (rows exported,
	// search results shown); 0 means not reported.
	RecordCount int64 `json:"record_count,omitempty"`
	// Purpose is the stated reason for the access, as free text.
	Purpose string `json:"purpose,omitempty"`
	// Relationship says whether the actor has a care or service
	// relationship with the subject. The decoders record an absent value as
	// RelationshipUnknown, so an event on the bus always carries one.
	Relationship Relationship `json:"relationship"`
	// Outcome is whether the access succeeded.
	Outcome Outcome `json:"outcome"`
	// Client is where the access came from.
	Client Client `json:"client,omitzero"`
	// SessionID identifies the actor's session in the source system.
	SessionID string `json:"session_id,omitempty"`
	// RequestID identifies the request in the source system, for tracing.
	RequestID string `json:"request_id,omitempty"`
	// Attrs carries source-specific details that have no field of their
	// own: at most MaxAttrs entries, keys of [A-Za-z0-9._:-].
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Key returns the Kafka record key of the event: org and actor id, so that
// one actor's events stay in order on one partition.
func (e *AccessEvent) Key() []byte {
	b := make([]byte, 0, len(e.Org)+1+len(e.Actor.ID))
	b = append(b, e.Org...)
	b = append(b, '/')
	return append(b, e.Actor.ID...)
}

// Actor is who performed an access.
type Actor struct {
	// ID identifies the actor in the source system (staff number, service
	// account, user token).
	ID string `json:"id"`
	// Type is what kind of actor this is.
	Type ActorType `json:"type"`
	// Role is the actor's role in the source system (nurse, billing, …).
	Role string `json:"role,omitempty"`
	// Department is the actor's department or unit.
	Department string `json:"department,omitempty"`
}

// Subject is the person whose personal information was accessed.
type Subject struct {
	// ID identifies the person. After the collector it is a keyed HMAC
	// token, never the raw identifier.
	ID string `json:"id"`
	// Type is what kind of person this is.
	Type SubjectType `json:"type"`
	// Minor is true when the subject is a child under 14; their data gets
	// the strictest rules.
	Minor bool `json:"minor,omitempty"`
	// VIP is true for a person flagged for heightened protection (public
	// figures, staff's relatives on request).
	VIP bool `json:"vip,omitempty"`
	// Employee is true when the subject is also an employee of Org.
	Employee bool `json:"employee,omitempty"`
}

// Client is the device and network an access came from.
type Client struct {
	// IP is the client's IPv4 or IPv6 address, without zone.
	IP string `json:"ip,omitempty"`
	// UserAgent is the client's user agent as reported.
	UserAgent string `json:"user_agent,omitempty"`
	// DeviceID identifies the client device. After the collector it is a
	// keyed HMAC token.
	DeviceID string `json:"device_id,omitempty"`
	// Geo is where the client was, usually derived from IP.
	Geo Geo `json:"geo,omitzero"`
}

// Geo is a coarse location. Lat and Lon are both present or both absent;
// the collector coarsens them to the configured precision.
type Geo struct {
	// Country is an ISO 3166-1 alpha-2 code in upper case ("CN").
	Country string `json:"country,omitempty"`
	// Region is the province or state.
	Region string `json:"region,omitempty"`
	// City is the city name.
	City string `json:"city,omitempty"`
	// Lat is the latitude in degrees, -90 to 90; nil when absent.
	Lat *float64 `json:"lat,omitempty"`
	// Lon is the longitude in degrees, -180 to 180; nil when absent.
	Lon *float64 `json:"lon,omitempty"`
}

// ActorType is the kind of actor.
type ActorType string

// Actor types.
const (
	ActorStaff   ActorType = "staff"   // employee without a clinical role
	ActorDoctor  ActorType = "doctor"  // clinician
	ActorService ActorType = "service" // a system acting on its own
	ActorAdmin   ActorType = "admin"   // administrator of a system
	ActorUser    ActorType = "user"    // an end user of the platform
)

// ActorTypes lists every ActorType in schema order.
func ActorTypes() []ActorType { return slices.Clone(actorTypes) }

var actorTypes = []ActorType{ActorStaff, ActorDoctor, ActorService, ActorAdmin, ActorUser}

// Valid reports whether t is one of ActorTypes.
func (t ActorType) Valid() bool { return slices.Contains(actorTypes, t) }

// Action is what an actor did to personal information.
type Action string

// Actions.
const (
	ActionRead       Action = "read"        // viewed one record
	ActionSearch     Action = "search"      // searched and saw a result list
	ActionExport     Action = "export"      // exported records to a file or system
	ActionPrint      Action = "print"       // printed
	ActionDownload   Action = "download"    // downloaded a file or attachment
	ActionUpdate     Action = "update"      // changed a record
	ActionDelete     Action = "delete"      // deleted a record
	ActionShare      Action = "share"       // shared with another party
	ActionLogin      Action = "login"       // signed in; touches no subject's data
	ActionBreakGlass Action = "break_glass" // emergency access overriding normal rules
)

// Actions lists every Action in schema order.
func Actions() []Action { return slices.Clone(actions) }

var actions = []Action{ActionRead, ActionSearch, ActionExport, ActionPrint, ActionDownload,
	ActionUpdate, ActionDelete, ActionShare, ActionLogin, ActionBreakGlass}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool { return slices.Contains(actions, a) }

// SubjectType is the kind of person whose data was accessed.
type SubjectType string

// Subject types.
const (
	SubjectPatient SubjectType = "patient"
	SubjectUser    SubjectType = "user"
	SubjectDoctor  SubjectType = "doctor"
)

// SubjectTypes lists every SubjectType in schema order.
func SubjectTypes() []SubjectType { return slices.Clone(subjectTypes) }

var subjectTypes = []SubjectType{SubjectPatient, SubjectUser, SubjectDoctor}

// Valid reports whether t is one of SubjectTypes.
func (t SubjectType) Valid() bool { return slices.Contains(subjectTypes, t) }

// Category is a kind of personal information.
type Category string

// Data categories.
const (
	CategoryIDNumber     Category = "id_number"    // national ID, passport numbers
	CategoryBiometric    Category = "biometric"    // face, fingerprint
	CategoryHealth       Category = "health"       // diagnoses, records, results
	CategoryPrescription Category = "prescription" // prescriptions and medication
	CategoryLocation     Category = "location"     // precise location, tracks
	CategoryContact      Category = "contact"      // phone, email, address
	CategoryDeviceID     Category = "device_id"    // IMEI, IMSI, Android ID, MAC
	CategoryChat         Category = "chat"         // consultations and messages
	CategoryFinancial    Category = "financial"    // payment, bank, insurance
	CategoryAccount      Category = "account"      // credentials and account data
	CategoryMinorData    Category = "minor_data"   // any data of a child under 14
)

// Categories lists every Category in schema order.
func Categories() []Category { return slices.Clone(categories) }

var categories = []Category{CategoryIDNumber, CategoryBiometric, CategoryHealth, CategoryPrescription,
	CategoryLocation, CategoryContact, CategoryDeviceID, CategoryChat, CategoryFinancial,
	CategoryAccount, CategoryMinorData}

// Valid reports whether c is one of Categories.
func (c Category) Valid() bool { return slices.Contains(categories, c) }

// sensitiveCategories are the categories that are sensitive personal
// information under PIPL art. 28 and GB/T 35273 appendix B: biometrics,
// specific identity (ID numbers), medical health (records and
// prescriptions), financial accounts, whereabouts (precise location),
// communication content (chats), credentials, and any data of a child under
// 14. Contact details and device identifiers are personal but not
// sensitive.
var sensitiveCategories = []Category{CategoryIDNumber, CategoryBiometric, CategoryHealth,
	CategoryPrescription, CategoryLocation, CategoryChat, CategoryFinancial, CategoryAccount,
	CategoryMinorData}

// SensitiveCategories lists the categories that are sensitive personal
// information, in schema order.
func SensitiveCategories() []Category { return slices.Clone(sensitiveCategories) }

// Sensitive reports whether c is sensitive personal information.
func (c Category) Sensitive() bool { return slices.Contains(sensitiveCategories, c) }

// Relationship says whether an actor has a care or service relationship
// with the subject. It is a three-valued string, not a bool: the source
// often does not know.
type Relationship string

// Relationships.
const (
	RelationshipTrue    Relationship = "true"
	RelationshipFalse   Relationship = "false"
	RelationshipUnknown Relationship = "unknown"
)

// Relationships lists every Relationship in schema order.
func Relationships() []Relationship { return slices.Clone(relationships) }

var relationships = []Relationship{RelationshipTrue, RelationshipFalse, RelationshipUnknown}

// Valid reports whether r is one of Relationships.
func (r Relationship) Valid() bool { return slices.Contains(relationships, r) }

// Outcome is the result of an access or a device event. Access events use
// success, denied and error; device events also use failure (the user
// failed a check, e.g. a wrong password or a face mismatch).
type Outcome string

// Outcomes.
const (
	OutcomeSuccess Outcome = "success" // done as asked
	OutcomeFailure Outcome = "failure" // device events only: the user failed a check
	OutcomeDenied  Outcome = "denied"  // refused by policy or risk control
	OutcomeError   Outcome = "error"   // the system failed
)

// AccessOutcomes lists the outcomes of access events in schema order.
func AccessOutcomes() []Outcome { return slices.Clone(accessOutcomes) }

var accessOutcomes = []Outcome{OutcomeSuccess, OutcomeDenied, OutcomeError}

// DeviceOutcomes lists the outcomes of device events in schema order.
func DeviceOutcomes() []Outcome { return slices.Clone(deviceOutcomes) }

var deviceOutcomes = []Outcome{OutcomeSuccess, OutcomeFailure, OutcomeDenied, OutcomeError}
