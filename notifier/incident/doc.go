// Package incident turns the detector's alerts into incidents, moves
// incidents through their lifecycle under a role permission table, and
// computes an incident's scope from the store.
//
// # Lifecycle
//
//	detected ──▶ triage ──▶ confirmed ──▶ { contained ⇄ notifying ⇄ reported } ──▶ closed
//	   │  ╲     ▲    │        (AwareAt)       (any order; each may close)
//	   │   ╲────┼────┼──▶ confirmed (detected may confirm directly)
//	   ▼        │    ▼
//	dismissed ──┘◀───┘   dismiss: reason; reopen (dismissed → triage): reason
//
// The transitions are event.IncidentState.CanTransitionTo: detected →
// triage|confirmed|dismissed; triage → confirmed|dismissed; dismissed →
// triage (a reopening); confirmed → contained|notifying|reported; each of
// contained, notifying and reported → the other two or closed; closed is
// final. A change the lifecycle lacks is an *IllegalTransitionError listing
// the states allowed from where the incident is.
//
// Lifecycle.Apply checks, in order: the operator has a name
// (ErrNoOperator); the transition exists; one of the operator's roles
// permits it (*ForbiddenError naming the roles that would); a reason is
// given (ErrReasonRequired) to dismiss, to reopen a dismissed incident and
// to confirm with an explicit awareness time before now; the awareness
// time is neither in the future (ErrAwareInFuture) nor before the first
// activity of the incident (WindowStart) minus awareness_margin
// (ErrAwareTooEarly); and, to close, the injected Obligations reports no
// open obligation (ErrObligationsOpen; without one, ErrObligationsUnknown).
// Every accepted change appends a Transition with who, when and why; a
// refused one leaves the incident unchanged.
//
// Awareness (AwareAt) is set once, at the first confirmation: the explicit
// time given or now. A later confirmation (after a reopening) keeps it
// unless a different explicit time is given with a reason; that change,
// and AmendAwareness, record an amendment — a transition from the current
// state to itself whose reason says "awareness amended from T1 to T2:
// <reason>". Legal clocks start from AwareAt.
//
// # Roles
//
// The permission table is data (incident.yaml, embedded; DecodeConfig reads
// another strictly). Default:
//
//	role      may move an incident to                                       from
//	analyst   triage, confirmed, dismissed, contained                       any
//	admin     triage, confirmed, dismissed, contained                       any
//	dpo       triage, confirmed, dismissed, contained, notifying, reported, closed   any
//	system    triage, dismissed                                             detected only
//
// Only the DPO closes, notifies and reports. An operator with several roles
// may do what any of them may. Amending awareness needs a role that may
// confirm.
//
// # Grouping
//
// Grouper.Add takes alert records (a repeated alert id updates the alert
// in its incident: status, severity, activity span) and says whether each
// Opened, Joined or Updated an incident, or was Ignored. The group key is
// the org plus the configured dimensions (grouping.by: actor, device,
// rule_family). The rule family is the family of the first matching glob
// of grouping.families (sorted by pattern), else the rule id without its
// last dashed or dotted segment: "vigil-access-020" → "vigil-access",
// "vigil-device-001" → "vigil-device" (the rule packs' ids are
// vigil-<pack>-<n>). A new alert joins its key's current incident when its
// activity (first_seen … last_seen) is within grouping.window (default
// 24 h) of the incident's activity; otherwise it opens a new incident,
// replacing the old one as the key's current incident.
//
// An incident's id is "inc-" + hex of the first 16 bytes of SHA-256 over
// org, group key and the opening alert's window_start: the same alerts in
// the same order give the same incidents, and a restarted grouper restored
// from Snapshot continues identically. Severity is the highest of its
// alerts' latest severities.
//
// An alert closed as false positive, authorized or duplicate never opens
// an incident. When every alert of an incident is closed the decision says
// AllClosed; the grouper only flags it — the service decides whether to
// dismiss the incident as the system ("all alerts closed"), which the
// default table allows only while it is still detected.
//
// State is bounded: beyond grouping.max_open (default 10000) groups, the
// least recently active one (ties by incident id) is forgotten and counted
// in Stats().Evicted; a later alert of its key opens a new incident.
// Snapshot is deterministic JSON (groups sorted by key).
//
// # Scope
//
// ComputeScope streams store.Reader.ActorHistory of each actor of the
// window (org + actor id) over [first_seen − margin, last_seen + margin]
// (last_seen included) and counts, over successful accesses (outcome
// success) to a subject's data only: distinct subjects (their tokens, which
// are pseudonymous), minors (subject_minor), distinct subjects per data
// category, the categories and the sensitive ones
// (event.Category.Sensitive), events, and records (sum of record_count, an
// unreported 0 counting as 1). Denied accesses are listed in Denied and not
// counted; accesses that failed with an error and logins are ignored.
// Scope.Event converts to the incident record's event.Scope.
//
// Limits:
//   - Jurisdictions come from org configuration (Config.Jurisdictions, org
//     → regime ids): the store's rows do not carry a subject's residence, so
//     the scope cannot apply regimes by residence. An org without a
//     configured jurisdiction is an error (ErrNoJurisdiction) rather than a
//     scope silently missing a regime.
//   - Device-only incidents (device-risk alerts without an actor) are
//     scoped by a scan of the org's events in the window: the accounts
//     used on the device (each counts as a person; identity checks, face
//     checks and payments add the id_number, biometric and financial
//     categories) and the subjects read from it (client.device_id). The
//     scan reads every event of the org in the window: fine for the hours
//     or days of an incident, slow for months.
//   - Only the incident's actors are followed, not other actors on the
//     same device or session.
//
// ScopeChanged compares a recomputed scope with the previous one (people,
// minors, categories, jurisdictions) so the notice plan can follow.
package incident
