// Package behave holds the detector's built-in behaviours: detections
// that a Sigma rule cannot express because they compare an event with a
// history — an actor's own hours and volumes, its peers', where it was a
// minute ago, what it has used before. Each is a detector.Behaviour; a
// Partition feeds it every event of its topic partition in offset order
// and folds what it emits into alerts exactly like rule findings.
//
//	bs, err := behave.New(cfg) // cfg from behave.Defaults(), then YAML
//	p, err := detector.New(rules, opts, bs)
//
// New validates the configuration and returns fresh instances of the
// enabled behaviours, in the order of the Rule* constants. Call it once
// per partition: every behaviour keeps per-partition state and is called
// from one goroutine, without locks.
//
// # Findings
//
// Every finding has RuleID "vigil.behaviour.<name>" (the Rule* constants),
// a title, a severity, the group key "org/actor-id" (access events) or
// "org/device-token" (device events) escaped as the Partition escapes
// rule groups ("/" and "\" preceded by "\"), so a behaviour's alerts group
// with rules' alerts about the same actor or device; Start and End in
// event time; the data categories touched (for device events, those the
// step exposes: realname_auth → id_number and biometric, face_verify →
// biometric, payment and bind_card → financial, account steps → account);
// the subject tokens (device events: the account token); evidence (event
// ids, earliest first, bounded by the configured burst sizes: at most 7
// with the defaults); and one plain sentence of
// explanation: what was seen against what is usual. Explanations name no
// actor, subject, account or device — those are in the group key,
// subjects and evidence — only roles, departments, cities, countries,
// counts, times and distances.
//
// Count is the number of events a finding adds to its alert: when a
// behaviour fires again over events an earlier finding covered, it counts
// only the new ones (so a burst's first finding covers the burst so far,
// and each later event of the burst is a finding of one). The actor
// baseline is the one exception in evidence, not in count: its first
// finding of an hour counts the hour's accesses so far and names the one
// that tipped it over.
//
// # Time, lateness, determinism
//
// All time is event time (occurred_at); nothing reads the wall clock.
// Behaviours see late events too and use them where their state allows:
// the baseline ignores an access for an hour it has already closed;
// impossible travel compares a late event with the latest position by
// absolute time difference and does not move the position back; windows
// (bursts, SIM swap) order by occurred_at. Output and state depend only
// on the events and Advance calls, in order: no map is iterated for
// output or for MarshalState, hashes kept in state use fixed seeds
// (stable across processes, unlike hash/maphash), and least-recently-used
// order is part of the state.
//
// # State, limits and snapshots
//
// State is bounded per partition: every table of actors, devices,
// accounts or peer groups has a max_* limit and evicts the least recently
// seen entry when full, and what a behaviour keeps per entry is bounded
// too (histograms of fixed size, a bounded number of remembered values,
// bursts of at most the configured length). Advance drops entries not
// seen for forget_after (or the behaviour's window), checking once per
// hour of watermark. Stats reports, per behaviour, how many entries it
// tracks and how many it has evicted (limit reached: raise the limit, the
// evicted history is lost) or expired, for the runner to export as
// metrics (StatsReporter). In the steady state — known actors and devices, nothing firing
// — no behaviour allocates, and all eleven together cost about 0.5–0.7 µs
// per event with 200 actors on a partition and 2–2.5 µs with 20,000, where
// the tables no longer fit in cache (BenchmarkBehaviours; tables are
// indexed by a 128-bit hash of org and id, one lookup per behaviour).
//
// MarshalState writes a compact binary state: the magic "VBS", a format
// version, the behaviour's name, then its tables oldest entry first.
// UnmarshalState(MarshalState()) gives a behaviour that behaves exactly as
// the original from then on (tests cut a mixed stream at random points and
// compare every finding with an uninterrupted run); UnmarshalState(nil)
// resets to the fresh state; bytes of another version or behaviour,
// truncated or with trailing bytes, are refused with an error and leave
// the behaviour fresh. A state restored under lower max_* limits evicts
// its oldest entries.
//
// # Configuration
//
// Config holds one section per behaviour, under the key "behaviours" of
// the detector's configuration (Validate names keys with KeyPrefix).
// Start from Defaults, where every behaviour is enabled; a zero number,
// duration, list or string in a section means that section's default, so
// a file names only what it changes. Validate reports every problem at
// once, each with its key. The limits are per partition.
//
// # actor_baseline (vigil.behaviour.actor_baseline, high)
//
// An actor's accesses, distinct subjects and records touched (the sum of
// record_count, at least 1 per successful access) in the last hour,
// against the actor's own active hours and against its peer group (same
// org, role and department). The last hour slides: the current clock hour plus the
// ten-minute slots of the previous hour that lie within the last 60
// minutes (distinct subjects of the previous hour in proportion to its
// accesses there), so a burst straddling o'clock is seen whole and one
// that ended an hour ago no longer counts.
// History is a log-linear histogram of the counts of each hour the actor
// was active in (exact below 16, four bins per doubling above: median and
// MAD within one bin), halved when it holds history_hours hours so recent
// weeks weigh most; the peer group pools the hours of all its actors on
// the partition. It fires when one of the three metrics reaches its floor
// and exceeds, for the actor and for the peers, both factor × median and
// median + mads × 1.4826 × MAD. Records catch the export of thousands of
// records in one or two files; accesses and subjects catch the sweep
// through records one by one; the reporting service that exports
// thousands every night has that as its own median.
//
// By default only accesses without a care relationship count
// (relationship false or unknown; logins never count): a doctor reading
// thirty of their own patients on a ward round, or a nurse her ward, is
// care, not an anomaly, while an export of a hundred patients one by one
// or a departing employee's sweep through contact data are not done under
// care relationships. Set include_care_relationship to count everything.
//
//	min_events               40     floor of accesses in the hour
//	min_subjects             30     floor of distinct subjects in the hour
//	min_records              1000   floor of records touched in the hour
//	own_factor, own_mads     3, 6   against the actor's own hours
//	peer_factor, peer_mads   3, 6   against the peer group's hours
//	min_active_hours         24     learning: active hours of the actor …
//	min_active_days          3      … on this many UTC days
//	min_peer_hours           48     peer hours before the peer test applies
//	history_hours            336    halve the actor's histogram at this size
//	peer_history_hours       4096   the same for a peer group
//	include_care_relationship false count relationship=true accesses too
//	max_actors, max_peer_groups 50000, 5000
//	forget_after             720h   drop an actor unseen this long
//
// Peers are those on the same partition (the access topic is keyed by
// actor, so a partition holds a sample of every group); with fewer than
// min_peer_hours the actor is compared with itself only. The floors keep
// quiet actors quiet: 1 → 4 accesses an hour is four times the median but
// not an incident.
//
// # first_seen (vigil.behaviour.first_seen, medium)
//
// For privileged actors — actor.type in actor_types (admin) or actor.role
// in roles — an access from a device (client.device_id), a network
// (client.ip within a /24 or /48), a country or city (client.geo), or to a
// data category (in an access that succeeded: a refused one touched
// nothing) the actor has never been seen with. Each new value fires
// once (it is then known). An actor is learnt without findings until
// learning_period has passed since its first event and it was active on
// min_active_days days, so a new administrator's first week does not
// fire on everything; an actor unseen for forget_after is learnt again.
//
//	actor_types      [admin]
//	roles            []          e.g. [records_admin]
//	attributes       [device, network, place, category]
//	learning_period  168h
//	min_active_days  3
//	ipv4_prefix      24
//	ipv6_prefix      48
//	max_values       64          per attribute per actor; least recently seen forgotten
//	forget_after     2160h       a value unseen this long is new again
//	max_actors       20000
//
// # impossible_travel (vigil.behaviour.impossible_travel, high)
//
// Two consecutive events of one actor (access stream, client.geo) or of
// one account (device stream, location, keyed org/account) whose
// great-circle (haversine) distance, less the reported accuracy, is at
// least min_distance_km and implies more than max_speed_kmh. Without
// coordinates on either event, a change of client.geo.country within
// country_change_within fires instead. Positions older than forget_after
// are not compared (at 900 km/h, a day reaches anywhere). In a
// compromised-account pattern the real user and the intruder alternate,
// and every switch is a finding, so every intruder event ends up in the
// alert's evidence.
//
//	max_speed_kmh          900    an airliner
//	min_distance_km        500    below: IP geolocation and coarsened GPS error
//	country_change_within  1h
//	forget_after           24h
//	max_actors, max_accounts 100000, 100000
//
// Device events are partitioned by device: an account's positions are
// compared only among the devices of one partition, so travel between
// two phones on different partitions is not seen (the access stream,
// keyed by actor, has no such gap).
//
// # care_relationship (vigil.behaviour.care_relationship, high)
//
// A read (actions) of health, prescription or biometric data
// (categories) that succeeded (outcomes) with relationship=false, outside
// break-glass: not covered by a break_glass action of the same actor on
// the same subject within break_glass_cover before it, and not marked by
// break_glass_attrs. Minors' and VIPs' data raise it to critical. A
// refused access disclosed nothing and is left to the denied-burst rules;
// relationship=unknown is left to the baseline (sources often do not
// know).
//
//	categories         [health, prescription, biometric]
//	actions            [read, search, export, print, download, share]
//	outcomes           [success]
//	break_glass_cover  12h
//	break_glass_attrs  {access_mode: break_glass}   {} turns it off
//	max_actors         50000   actors with recent break-glass
//
// # break_glass_burst (vigil.behaviour.break_glass_burst, high)
//
// Break-glass used as a habit rather than for an emergency: burst_actions
// break_glass actions of one actor within burst_window, or break-glass on
// distinct_subjects different subjects within subjects_window. An
// emergency doctor breaking the glass for a few patients a shift stays
// below both (in the simulator's busiest emergency departments a doctor
// reaches six patients in a day).
//
//	burst_actions, burst_window          5 within 1h
//	distinct_subjects, subjects_window   10 within 24h
//	max_actors                           50000
//
// # off_hours (vigil.behaviour.off_hours, medium; minors' data high)
//
// Access to sensitive data (categories: event.Category.Sensitive) outside
// business hours in the org's time zone AND outside the actor's own usual
// hours, min_events times within window. Usual hours come from the
// actor's histogram of events per local hour: an hour is usual when it,
// half of each neighbour and a quarter of the hours two away hold
// usual_share of the actor's events — so night-shift staff, on-call staff
// (whose events spread over the day) and an hour of overtime are not
// flagged, while a day worker reading records from home at 23:00 is. No
// finding until the histogram holds min_history_events events from
// min_active_days local days. Set time_zones: with the default UTC,
// "business hours" are UTC hours (the actor's own hours still work, as
// they are learnt in the same zone).
//
//	time_zones          {}            org → IANA zone
//	default_time_zone   UTC
//	business_hours      07:00-19:00   start inclusive, end exclusive; may span midnight
//	business_days       every day     mon … sun
//	categories          every sensitive category
//	usual_share         0.02
//	min_history_events  200
//	min_active_days     5
//	history_events      8192          halve the histogram at this size
//	min_events, window  3 within 2h
//	max_actors          50000
//	forget_after        720h
//
// # device_signals (vigil.behaviour.device_signals, high)
//
// A sensitive step (kinds: realname_auth, face_verify, payment,
// password_reset) from a device showing one of signals (emulator,
// hook_framework). Rooted is not in the default: about one Android phone
// in a hundred is rooted by its owner, and a rooted phone passing its
// owner's real-name check is not fraud; emulators and hook frameworks are
// the tools of identity fraud and are not on genuine users' phones. Keeps
// no state.
//
//	kinds    [realname_auth, face_verify, payment, password_reset]
//	signals  [emulator, hook_framework]   any device.signals key
//
// # device_many_accounts (vigil.behaviour.device_many_accounts, high)
//
// One device used by more than max_accounts distinct accounts within
// window: a device farm registering or logging in accounts one after
// another. A family sharing a tablet stays below five.
//
//	max_accounts, window  5 within 24h
//	max_devices           100000
//
// # face_verify_failures (vigil.behaviour.face_verify_failures, medium)
//
// failures failed face verifications (kind face_verify, outcome in
// outcomes) on one device, or of one account across the devices of the
// partition, within window: someone trying photos, masks or injected
// video. Three failures in a row happen to genuine users in bad light;
// five within a quarter of an hour seldom do.
//
//	failures, window  5 within 15m
//	outcomes          [failure, denied]
//	max_devices, max_accounts  100000, 100000
//
// # sim_swap (vigil.behaviour.sim_swap, high)
//
// A sim_change of an account followed within window by a step of
// followed_by (password_reset) of the same account, from a device the
// account had not used before the SIM change: the SIM-swap takeover,
// where the intruder moves the victim's number to a new SIM and resets
// the password with the SMS code on their own phone. A customer who
// changes SIM and resets the password on the phone they always use does
// not fire (any_device: true makes it fire too). Like travel, an account is followed
// within one device partition: the change and the reset are seen
// together when they come from the same device or from devices on the
// same partition.
//
//	window           2h
//	followed_by      [password_reset]
//	any_device       false   true: also from a device the account used before
//	learning_period  24h     of event time before the first finding
//	forget_after     720h    forget a device unseen this long
//	max_accounts, max_devices  100000, 100000
//
// # dormant_account (vigil.behaviour.dormant_account, high; minors' and VIPs' data critical)
//
// An actor (org and actor id) seen on at least min_active_days distinct
// days, then with no event at all for at least idle (event time: a
// first event after exactly idle counts, one a millisecond earlier does
// not), that within window of its first event back touches min_records
// records (record_count, at least 1 per access) of sensitive categories
// (event.SensitiveCategories) or exports, prints or downloads them, with
// outcome success: a forgotten account taken over, or a leaver's account
// never closed. It fires once per waking, with the accesses counted so
// far as evidence; severity is raised one step (high → critical) when
// one of them touched a minor's data (subject.minor or minor_data) or a
// VIP. A new actor is not dormant, and one back from leave reading a few
// records, or ordinary (contact) data only, stays below min_records. An
// actor unseen for forget_after is forgotten and is new when it returns.
// Device events are not watched: customers come back to the app after
// weeks as a matter of course, and the device stream is keyed by device.
//
//	idle             720h    (30 days) without any event
//	min_active_days  3       distinct UTC days seen before the gap
//	min_records, window  20 within 24h of the first event back
//	forget_after     8760h   longer than idle
//	max_actors       100000
package behave
