// Package bus is Vigil's Kafka layer: the topic catalogue, the `bus:`
// configuration, producer and consumer-group set-up on kafka-go, topic
// creation and health checks, and the embedded broker that `vigil up` runs
// when there is no Kafka.
//
// # Topics and keys
//
// Every stage talks to the others through these topics (topics.go holds the
// names; Topics lists them with their default partition counts):
//
//	topic                 key                          written by   read by
//	vigil.access.v1       actor token                  collector    detector, sink
//	vigil.device.v1       device token                 collector    detector, sink
//	vigil.deadletter.v1   key of the rejected input    collector    sink (and operators)
//	vigil.alerts.v1       alert group                  detector     notifier, sink
//	vigil.incidents.v1    incident id                  notifier     sink
//	vigil.notices.v1      notice id                    notifier     sink
//	vigil.detector-state.v1  group/topic/partition/chunk  detector  detector
//
// vigil.detector-state.v1 is compacted (TopicSpec.Configs): it keeps the
// latest snapshot of every detector partition (see detector/runner).
//
// Keys are tokens, never raw identifiers. Writers place a record by the
// murmur2 hash of its key, the Java client's partitioner (also franz-go's
// and librdkafka's murmur2_random; not kcat's default, consistent_random):
// records with one key are in order on one partition whichever of those
// clients wrote them. The suffix .v1 is the schema version: a change that
// breaks readers gets a new topic.
//
// # Delivery guarantees
//
// Producing is synchronous with acks=all (NewWriter): WriteMessages returns
// only when every in-sync replica has the records, or returns the error of
// each failed record (kafka.WriteErrors). The collector keeps a record in its
// disk spool until then. Consuming is at-least-once: a stage fetches with
// FetchMessage, processes durably, then calls CommitMessages; commits are
// sent every reader.commit_interval and when the reader closes. A crash or a
// rebalance can therefore redeliver records that were processed but not yet
// committed; downstream stages drop them by id (event_id, the deterministic
// alert id, the deterministic notice id). Nothing here deduplicates.
//
// # Defaults, and the kafka-go traps they avoid
//
// Defaults holds every default in one place. The ones that differ from
// kafka-go's:
//
//   - writer.batch_timeout 1ms: kafka-go waits 1s for a batch to fill, so a
//     lone record would take a second. Vigil's writers are synchronous and
//     hand over whole batches, so every partition's last partial batch pays
//     this wait once per call: 10ms cost the collector a third of its
//     producer throughput (BENCHMARKS.md).
//   - RequiredAcks all and Async false, always: a kafka-go Writer literal
//     asks for no acks, and asynchronous writes drop errors.
//   - writer.compression lz4: cheap on CPU, good on JSON (kafka-go: none).
//   - writer.batch_size 1000 (kafka-go: 100): fewer, larger produce requests.
//   - reader.commit_interval 1s, never 0: with 0 kafka-go commits
//     synchronously, one broker round trip per CommitMessages call.
//   - reader.max_wait 500ms (kafka-go: 10s): an idle reader answers within
//     half a second, and Close does not wait 10s for a fetch to return.
//   - AllowAutoTopicCreation false: a typo in a topic name is an error, not a
//     new topic. Topics are created by EnsureTopics, idempotently.
//   - a join retry after 1s (kafka-go: 5s), and the reader follows partitions
//     added to its topic.
//
// Two kafka-go behaviours are worked around in code: Writer.Close does not
// close a transport it was given, so the Writer type here closes its own
// (else a goroutine and connections leak per writer); and a transport answers
// metadata requests from a cache, so Ping uses a fresh transport each time
// (else /healthz would report a dead broker as healthy).
//
// kafka-go v0.4.51 works with Kafka 4.x, which removed old protocol versions
// (KIP-896; JoinGroup v0-v1 among them): it negotiates JoinGroup v2, Fetch
// v10, and the produce, offset and SASL versions Kafka 4 keeps. The
// integration tests (integration_test.go, build tag "integration") prove it
// against a real Kafka 4 broker over PLAINTEXT and SASL/SCRAM, and against
// kcat in both directions.
//
// # Security
//
// SASL SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN (PLAIN only with TLS) and TLS
// apply to writers, readers and admin calls alike. The password comes from
// the environment (SASL.Password, set at the edge) or from
// sasl.password_file, never from the YAML file; it is a Secret, which
// prints and logs as [REDACTED] however it is formatted.
//
// # The embedded broker
//
// StartEmbedded runs franz-go's kfake, a Kafka-protocol broker, in-process as
// a single node listening on 127.0.0.1:9092 by default, and creates the
// missing Vigil topics on every start. With a data directory it persists
// topics, records (segment files), committed group offsets and producer
// state there: a broker started again on the directory has everything the
// previous one had acknowledged, after an orderly Close and after the
// process was killed (both are tested). By default each produced batch and
// each committed offset is fsynced before it is acknowledged, because a
// single node has no replica to recover from; EmbeddedConfig.NoSync trades
// that for speed. Without a data directory everything lives in memory.
//
// Known limits of the embedded broker: one node, no replication, retention
// as Kafka's default (7 days); kfake logs, rather than fails on, an offset
// commit it could not write to disk (the group then re-reads from its
// previous commit after a restart, which at-least-once consumers tolerate);
// it drops the connection on bad SASL credentials instead of answering
// SASL_AUTHENTICATION_FAILED. Its data directory format is kfake's, not
// Kafka's: move to a real cluster by replaying topics, not by copying files.
//
// Metrics for this package are not defined yet.
package bus
