package bus

// Topic names. The suffix is the schema version: a change that breaks
// readers gets a new topic (vigil.access.v2), never a new meaning for an old
// one. These constants are the only place the names are spelled; stages and
// tests refer to them.
const (
	// TopicAccess carries access events (who touched which personal data),
	// keyed by the pseudonymised actor token so that one actor's events stay
	// in order on one partition.
	TopicAccess = "vigil.access.v1"

	// TopicDevice carries device-risk events (logins, real-name checks,
	// SIM changes), keyed by the device token.
	TopicDevice = "vigil.device.v1"

	// TopicDeadLetter carries every rejected input with the reason, so that
	// nothing is dropped silently. Records are keyed by the key the input
	// would have had when it has one, else they have no key.
	TopicDeadLetter = "vigil.deadletter.v1"

	// TopicAlerts carries detector alerts, keyed by the alert group so that
	// all alerts that may merge into one incident reach the same notifier
	// instance in order.
	TopicAlerts = "vigil.alerts.v1"

	// TopicIncidents carries incident state changes, keyed by incident id.
	TopicIncidents = "vigil.incidents.v1"

	// TopicNotices carries notices to affected people and regulators and
	// their delivery state, keyed by the deterministic notice id.
	TopicNotices = "vigil.notices.v1"

	// TopicDetectorState carries the detector's snapshots: the detection
	// state of each input partition of each detector consumer group, in
	// chunks keyed by group, topic, partition and chunk number. It is
	// compacted, so the latest snapshot of every partition is kept for as
	// long as the group exists (see package detector/runner).
	TopicDetectorState = "vigil.detector-state.v1"
)

// TopicSpec describes one topic: its name, the partition count used when
// the topic is created (unless Config.Partitions overrides it), and what the
// record key is.
type TopicSpec struct {
	// Name is the topic name, e.g. TopicAccess.
	Name string
	// Partitions is the partition count on creation; zero or less means the
	// default for the topic from Topics, or 1 for a topic not listed there.
	Partitions int
	// Key says what the record key holds. Writers hash the key with
	// murmur2 (the Java client's partitioner), so records with one key keep
	// their order on one partition.
	Key string
	// Configs are topic configurations set when EnsureTopics (or the
	// embedded broker) creates the topic, e.g. cleanup.policy=compact.
	// Nil means the broker's defaults. A topic that already exists keeps
	// its configuration.
	Configs map[string]string
}

// Topics returns every Vigil topic with its default partition count and key,
// in pipeline order. The slice is a fresh copy; callers may modify it.
func Topics() []TopicSpec {
	return []TopicSpec{
		{Name: TopicAccess, Partitions: 12, Key: "actor token (HMAC pseudonym of actor.id)"},
		{Name: TopicDevice, Partitions: 6, Key: "device token (HMAC pseudonym of device_id)"},
		{Name: TopicDeadLetter, Partitions: 3, Key: "key of the rejected input when known, else none"},
		{Name: TopicAlerts, Partitions: 6, Key: "alert group"},
		// The notifier's state: every record is an incident's or a
		// notice's full latest state, and the notifier rebuilds itself
		// from them on start. Compaction keeps the latest per id for as
		// long as the topic exists; time retention would drop open
		// incidents and the record of notices already sent.
		{Name: TopicIncidents, Partitions: 3, Key: "incident id", Configs: map[string]string{"cleanup.policy": "compact"}},
		{Name: TopicNotices, Partitions: 3, Key: "notice id", Configs: map[string]string{"cleanup.policy": "compact"}},
		{Name: TopicDetectorState, Partitions: 3, Key: "detector group/topic/partition/chunk",
			Configs: map[string]string{
				"cleanup.policy": "compact",
				// Roll segments hourly or at 64 MiB: compaction never
				// touches the active segment, and a restore that has to
				// scan the topic reads what compaction has not removed.
				"segment.ms":    "3600000",
				"segment.bytes": "67108864",
			}},
	}
}

// LookupTopic returns the spec of a Vigil topic by name.
func LookupTopic(name string) (TopicSpec, bool) {
	for _, t := range Topics() {
		if t.Name == name {
			return t, true
		}
	}
	return TopicSpec{}, false
}

// topicNames returns the names of the Vigil topics, for messages.
func topicNames() []string {
	ts := Topics()
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}
