// Package sink is `vigil sink`: a Kafka consumer group that writes the
// records of vigil.access.v1, vigil.device.v1, vigil.deadletter.v1,
// vigil.alerts.v1, vigil.incidents.v1 and vigil.notices.v1 into the store
// (ClickHouse, or the embedded store of `vigil up`) through store.Writer,
// in large batches, at least once.
//
// # Flow and delivery guarantee
//
// Run builds one consumer-group reader per configured topic
// (bus.NewGroupReader, all in the group sink.group) and one goroutine per
// reader that fetches records (FetchMessage, which does not commit). A
// single loop decodes each record into a store.Batch — access and device
// events into Access and Device, dead letters into DeadLetters, alerts,
// incidents and notices into Alerts, Incidents and Notices wrapped in
// store.Versioned with Version = the record's offset — until the batch holds
// sink.batch_size records or its first record is sink.batch_age old. Then:
//
//  1. Writer.Write(batch). When it returns nil the store has every row.
//  2. Only then CommitMessages for the last record of each partition in the
//     batch, which commits every record of the batch. The readers send the
//     offsets to Kafka every bus.reader.commit_interval and when they close.
//
// The write runs in its own goroutine (a flight) while the loop decodes
// and fills the next batch, so decoding overlaps the store's insert. There
// is at most one flight: the next batch, once full (or sink.batch_age old),
// waits until the flight has landed and its offsets were committed, and
// only then flies. Batches are therefore written and committed one at a
// time, in the order their records were read, and the sink holds at most
// two batches (2 × sink.batch_size records) plus the fetchers' buffers.
//
// When Write fails the sink retries the same batch, unchanged, with
// exponential backoff between sink.retry_min and sink.retry_max (with
// jitter), for as long as it takes; it commits nothing meanwhile and reads
// no further once the next batch is full (the fetchers block once the
// hand-over buffer is full, so memory stays bounded while the store is
// down). It never skips a batch, and never writes or commits the batch read
// after one the store refuses. A
// Write error is never fatal: a store that refuses a batch for good (a
// schema mismatch) keeps the sink retrying, visible in vigil_sink_retrying
// and in Ready, until an operator fixes it.
//
// A crash, a rebalance, or a stop while a batch is retried redelivers the
// records after the last commit: the store sees some records twice, and the
// schema and queries drop the copies by id (event_id, dead_letter_id,
// alert_id with the highest version, incident_id, notice_id; see
// docs/ARCHITECTURE.md). Within one Run the sink skips a record whose
// offset it has already taken from that partition: a rebalance (every
// reader joining or leaving the group causes one) makes kafka-go restart a
// partition from its committed offset, which would otherwise repeat the
// records of the batch being filled. The store still deduplicates by id;
// this only keeps the common case free of copies.
//
// # Lifecycle
//
// New checks the configuration and connects to nothing. Run(ctx) runs until
// ctx ends or Shutdown is called, then returns nil; it returns an error only
// when it cannot go on (a reader could not be built or failed, or an
// undecodable record with sink.on_invalid: stop). Run may be called once.
// Shutdown(ctx) stops Run and waits for it; it is safe without Run, twice,
// and concurrently. On a stop:
//
//   - a Write in flight is not cancelled: it runs to its end (at most
//     sink.write_timeout); if it succeeded, the batch is committed;
//   - a batch the store keeps refusing is left uncommitted, and so is the
//     batch being filled after it;
//   - otherwise the batch being filled gets one last attempt, written and
//     committed or neither (so a stop drains what was read);
//   - the readers close, which sends the queued commits and leaves the
//     group.
//
// So a batch is always either written and committed, or not committed (and
// read again by the next member of the group). The sink does not close the
// Writer it was given.
//
// # Records that cannot be decoded
//
// Records on the bus were validated by the stage that produced them, but
// the sink decodes and checks them again, at the bus level for access and
// device events (event.Validator.ValidateAccess/ValidateDevice: event_id,
// source and received_at required, the future-skew check off so a clock
// difference between hosts cannot refuse a record the collector accepted),
// and strictly for the other types (encoding/json with unknown fields and
// trailing data refused, their id required). It is the last gate before the
// system of record, and the id is the dedup key.
//
// A record that fails is never dropped silently. By default
// (sink.on_invalid: dead_letter) it becomes an event.DeadLetter in the
// same batch, written and committed with it:
//
//	dead_letter_id  "sink:" topic ":" partition ":" offset — the same on redelivery
//	received_at     the Kafka record's timestamp (the sink's clock if it has none)
//	receiver        "sink" (ReceiverSink)
//	kind            access, device, deadletter, alert, incident or notice
//	reason          "undecodable" (ReasonUndecodable)
//	problems        the decoder's problems, at most 20
//	location        topic[partition]@offset
//	raw             the record value (pseudonymised already: it is past the collector),
//	                the first 8 KiB, invalid UTF-8 replaced; raw_bytes and truncated as usual
//
// and vigil_sink_invalid_records_total{topic} counts it. The pipeline does
// not stall on one bad record, and the record can be found in the store.
// With sink.on_invalid: stop, Run returns an *InvalidRecordError naming the
// topic, partition, offset and problems instead; nothing of the batch is
// committed, so a restart meets the same record again (fix the producer,
// or move the group's offset past it).
//
// # Configuration
//
// Config is the `sink:` section; every zero value means a default
// (Defaults): group vigil-sink, all six topics, batch_size 50000,
// batch_age 1s, retry_min 100ms, retry_max 30s, write_timeout 2m,
// unready_after 1m, on_invalid dead_letter. A topic name may carry a
// prefix ending in a dot ("test.vigil.access.v1"): the Vigil topic name it
// ends with decides how its records are decoded. Kafka settings (brokers,
// SASL, TLS, commit interval) are the `bus:` section, bus.Config.
//
// # Metrics
//
//	vigil_sink_rows_written_total{table}          counter  rows the store acknowledged (table: access, device,
//	                                                       dead_letters, alerts, incidents, notices)
//	vigil_sink_batches_total{result}              counter  write attempts by result (ok, error)
//	vigil_sink_write_duration_seconds             histogram time of one write attempt
//	vigil_sink_retrying                           gauge    1 while a refused batch is being retried
//	vigil_sink_last_success_timestamp_seconds     gauge    Unix time of the last batch written and committed
//	vigil_sink_invalid_records_total{topic}       counter  undecodable records (dead-lettered, or the one that stopped the sink)
//	vigil_sink_lag_records{topic}                 gauge    records not committed on this instance's partitions:
//	                                                       high watermark at the last fetch minus committed offset,
//	                                                       updated after each commit
//	vigil_sink_pending_records                    gauge    records read and not yet written: the batch in flight
//	                                                       and the one being filled
//	vigil_sink_redelivered_records_total          counter  records fetched again after a rebalance and skipped
//
// While the store is down the lag gauge stays at its last value (the sink
// fetches nothing new); alert on vigil_sink_retrying and on the age of
// vigil_sink_last_success_timestamp_seconds, and read the group's lag from
// Kafka (kafka-consumer-groups --describe) for the exact figure.
package sink
