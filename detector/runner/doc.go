// Package runner runs the detector on Kafka: `vigil detect`. It is one
// consumer group over vigil.access.v1 and vigil.device.v1 that feeds
// every assigned partition to its own detector.Partition, produces the
// alerts to vigil.alerts.v1 and keeps each partition's state on the
// compacted topic vigil.detector-state.v1, so that a restart, a crash or
// a rebalance neither misses a correlation nor raises an alert with a new
// id twice.
//
// # Flow
//
// Run joins the group (bus.NewConsumerGroup, kafka-go's ConsumerGroup and
// Generation API) and, for every generation, starts one worker per
// assigned partition inside the generation (Generation.Start: kafka-go
// waits for the workers before it joins the next generation). A worker:
//
//  1. restores the partition's state (see Restore below);
//  2. reads the partition from the first offset the state does not cover
//     (bus.NewPartitionReader) and feeds every record, decoded as an
//     access or device event by the topic, to Partition.Access or Device
//     with its offset. Undecodable records are skipped and counted (the
//     sink keeps them as dead letters);
//  3. after each batch of records (all those waiting, at most
//     detect.max_batch), launches a flight when none is in the air: the
//     alert records Drain returns, produced to the alerts topic keyed by
//     their group key with the header vigil-origin: detector
//     (bus.NewWriter: acks=all, synchronous), retried with
//     backoff until acknowledged. The partition goes on feeding while a
//     flight is in the air, up to detect.max_batch records; updates of an
//     alert meanwhile coalesce into its next record. When a flight lands,
//     every record fed before its launch counts as produced;
//  4. between flights, takes a snapshot when one is due and writes it in
//     the background; commits the produced offset every
//     detect.commit_interval (and right after a snapshot is written).
//
// Suppressed findings (DrainSuppressed) are logged at info with the
// exception, its reason, author and expiry. Output is muted while a
// partition replays (below).
//
// # Guarantees
//
// Alerts before offsets: an offset is committed only after the alerts of
// every record before it were acknowledged by the alerts topic. A crash
// therefore never skips an alert; it may produce some records again,
// with the same ids (a Partition is deterministic: the same records in
// the same order give the same alerts, ids included), and consumers keep
// the latest record of an id.
//
// Snapshots are complete: a snapshot is taken only when no flight is in
// the air, so every alert record drained before it was acknowledged, and
// the records not drained yet are inside it (Partition.Snapshot keeps the
// undrained output; Restore gives it back to Drain). A snapshot may
// therefore cover records after the committed offset: restoring it and
// going on from its offset loses nothing.
//
// Commits point at snapshots: the metadata of every committed offset
// names the latest snapshot written (state partition, offset of its first
// chunk, chunk count, id, and the offset after the last record it
// covers); the first commit of a partition waits for its first snapshot.
//
// # Restore
//
// When a partition is assigned, the worker reads the group's committed
// offset C and its metadata, then takes the first of:
//
//   - memory: this instance released the partition cleanly in the last
//     generation (last flight landed, last snapshot written and committed)
//     and C is still what it committed: the Partition is kept as it is.
//     A rebalance does not reload partitions that stay;
//   - snapshot: the snapshot the metadata points at, read from the state
//     topic; if it was compacted away (a newer one exists), or the
//     metadata holds no pointer (offsets reset by an operator), the latest
//     complete snapshot of the partition found by reading its state
//     partition;
//   - empty: no committed offset (a new group) or no snapshot: a fresh
//     Partition from C, or from bus.reader.start_offset without a commit.
//     A snapshot that cannot be restored (another format version,
//     detector.ErrSnapshotVersion, or corrupt) also starts empty at C:
//     correlations before C are lost, their alerts were produced.
//
// With a snapshot covering the records before N: if N < C, the records
// N … C−1 are replayed with output muted (Partition.SetMuted): their
// alerts were produced before the commit, the replay only rebuilds the
// windows, baselines and open alerts; at C the partition goes live. If
// N ≥ C it goes live at N, producing first the records the snapshot held
// undrained. Either way the Partition continues exactly as an
// uninterrupted one would, so a correlation spanning the move fires, and
// an alert raised again carries the id it had.
//
// Rebalances are eager (kafka-go revokes every partition of every member):
// each worker lets its flight land, produces what is left, writes a last
// snapshot and commits, within the generation, before kafka-go rejoins;
// Kafka accepts commits of the ending generation while it prepares the
// rebalance. Shutdown does the same for every partition, then leaves the
// group. A worker killed without that (SIGKILL, a lost machine) leaves its
// last periodic snapshot and commit: the next owner replays from there.
//
// # State records
//
// The state topic is compacted (cleanup.policy=compact; bus.EnsureTopics
// and the embedded broker create it so, and the runner warns at start
// when it is not). A snapshot is cut into chunks of at most 512 KiB (a
// broker's default message limit is 1 MiB), keyed
// "<group>/<topic>/<partition>/<chunk number>"; all chunks of a partition
// go to one state partition (murmur2 of the key without the chunk number),
// so compaction keeps the latest chunk of each number and a scan reads one
// partition. A smaller snapshot deletes the chunks a larger one left with
// tombstones. Each chunk value is the magic "VIGILSN" and format version
// 1, the snapshot id (8 random bytes), then as varints the chunk number,
// the chunk count, the offset after the last record covered, the total
// size, a big-endian CRC-32C of the whole snapshot, the time taken (Unix
// ms), and the chunk's bytes of the detector snapshot
// (detector.Partition.Snapshot: "VIGILDET", version, gob). A snapshot is
// used only when all its chunks are found and the checksum holds. The
// commit metadata is "vigil-detector/1 <state partition> <offset of chunk
// 0> <chunks> <id hex> <next offset>". The partition count of the state
// topic must never change (the chunks of a partition would move).
//
// # Dispositions
//
// Analysts decide on alerts (closed_false_positive, closed_authorized,
// closed_duplicate, escalated) by publishing the alert's full record with
// the new status, status_reason and status_by on the alerts topic, keyed
// by its group key (`vigil alert close`, the console, the notifier). The
// runner feeds those decisions back to detector.Partition.Dispose, so that
// later findings that fold into a closed alert keep it closed:
//
//   - every instance reads the whole alerts topic (every partition,
//     outside the consumer group, from the first retained record, then
//     following it; partitions added later are picked up within 30s). A
//     record is a decision when its status is not open and it was not
//     produced by a detector: the runner marks its own records with the
//     Kafka header vigil-origin: detector and skips them, so that its
//     echo of an older decision never overrides a newer one. A decision
//     without status_reason or status_by (event.Alert.StatusProblems), or
//     an undecodable record, is skipped, logged and counted;
//   - the latest decision of each alert id is kept in memory, at most
//     detect.max_dispositions (default 100000; the least recently decided
//     is forgotten first and counted as an eviction);
//   - every partition applies, on its own goroutine (between batches,
//     like its events), each new decision whose alert is in its state
//     (Partition.Disposition): the alert takes the status, reason and
//     author and is produced again with its current counts. A decision on
//     an alert the partition does not hold is not given to it: alert ids
//     are per partition, another partition or instance holds it;
//   - when a partition is assigned (from memory, a snapshot or empty), and
//     again when its muted replay ends, it applies every decision known
//     whose alert is in its state; during the replay decisions wait;
//   - before a flight is launched, every record in it is checked against
//     the decisions known: an alert raised again live (after a restore
//     from an older snapshot, or by a new group) takes its decision before
//     it is produced, so the detector never publishes an earlier open
//     state over an analyst's decision.
//
// Applied decisions are part of the partition's state and of its
// snapshots, so they survive restarts even after the analyst's record
// left the alerts topic's retention. Applying the same decision again
// changes nothing (Dispose is idempotent).
//
// # Lifecycle
//
// New checks the configuration and builds one Partition to surface rule
// and option problems; it connects to nothing. Run(ctx) creates the
// alerts and state topics if missing, joins the group and runs until ctx
// ends or Shutdown is called, then returns nil (an error only when it
// cannot go on: a client or a partition's detector could not be built).
// Kafka being away is not an error: the group rejoins and flights retry;
// Ready reports producing that has failed for detect.unready_after.
// Shutdown(ctx) stops Run gracefully and waits; it is safe without Run,
// twice and concurrently. Run may be called once.
//
// # Metrics
//
// Counters (topic labels hold the configured topic names; no label holds
// an id):
//
//	vigil_detector_events_total{topic}            records fed live
//	vigil_detector_replayed_events_total{topic}   records fed muted while restoring
//	vigil_detector_invalid_events_total{topic}    undecodable records, skipped
//	vigil_detector_duplicate_events_total{topic}  redelivered records, ignored
//	vigil_detector_late_events_total              events behind the watermark
//	vigil_detector_late_dropped_events_total      late events too old for a window
//	vigil_detector_findings_total                 findings of rules, correlations, behaviours
//	vigil_detector_suppressed_findings_total      findings kept from alerting by exceptions
//	vigil_detector_alerts_opened_total            findings that opened an alert
//	vigil_detector_alerts_updated_total           findings folded into an alert
//	vigil_detector_alerts_expired_total           alerts forgotten after their window
//	vigil_detector_evictions_total{kind}          group, window, alert, disposition: limits reached
//	vigil_detector_dispositions_read_total        decisions read from the alerts topic
//	vigil_detector_invalid_dispositions_total     alert records the disposition reader skipped
//	vigil_detector_dispositions_applied_total     decisions that changed an alert in state
//	vigil_detector_behaviour_evictions_total{behaviour}  behaviour entries dropped at a max_* limit
//	vigil_detector_behaviour_expired_total{behaviour}    behaviour entries dropped after forget_after
//	vigil_detector_alerts_produced_total          alert records acknowledged
//	vigil_detector_produce_errors_total           failed attempts to produce alerts
//	vigil_detector_commits_total{result}          ok, error
//	vigil_detector_snapshots_total{result}        ok, error
//	vigil_detector_restores_total{source}         snapshot, memory, empty, failed
//	vigil_detector_generations_total              consumer group generations joined
//
// Histograms: vigil_detector_snapshot_size_bytes,
// vigil_detector_snapshot_duration_seconds (writing one),
// vigil_detector_restore_duration_seconds (assignment to live, replay
// included), vigil_detector_alert_latency_seconds (Kafka timestamp of
// the newest record of a flight to its acknowledgement).
//
// Gauges, computed at scrape time from the assigned partitions:
// vigil_detector_partitions{topic}, vigil_detector_lag_records{topic}
// (high watermark minus committed offset), vigil_detector_replaying_partitions,
// vigil_detector_snapshot_age_seconds (the oldest latest snapshot: about
// what a crash replays), vigil_detector_groups, vigil_detector_alerts
// (state held), vigil_detector_retrying (1 while producing alerts fails),
// vigil_detector_dispositions (decisions kept from the alerts topic),
// vigil_detector_behaviour_tracked{behaviour} (entries the behaviours of
// package behave track; behaviour names are a fixed set).
//
// # Limits
//
// Kafka-go has no transactions, so an instance that lost the group
// without knowing it (a long pause past the session timeout) may still
// produce alert records after the partition's new owner did; its commits
// are refused (stale generation). Such a record is an earlier state of the
// same alert, superseded by the owner's next record of it. Records older
// than the partition's retention cannot be replayed: a snapshot older than
// the retention replays from the first record still there.
// Resetting the group's offsets backwards does not re-run the rules over
// the past: the latest snapshot, which already covers those records, is
// restored (their alerts would have the same ids anyway); to evaluate
// changed rules over past events, run a new detect.group. Reopening a
// closed alert through the alerts topic is not supported: records with
// status open are never taken as decisions (they are what the detector
// itself produces), so the latest other decision stays in force.
package runner
