// Package spool is the collector's disk spool: an append-only, checksummed
// queue of records between the receivers and the Kafka producer. A receiver
// answers its sender "accepted" only after Append returned nil, and Append
// returns nil only once the records are on disk; the producer reads them
// with Next, sends them to Kafka, and Acks them once Kafka has them. So an
// event acknowledged to a sender reaches Kafka even if Kafka is down for a
// while or the collector is killed (DESIGN.md, "Nothing accepted is lost").
//
// # Durability guarantee
//
// With sync "always" (the default), Append writes the records and calls
// fdatasync before it returns nil: they survive a crash of the process or
// of the machine. Concurrent Appends are committed together (group commit):
// one goroutine writes every queued Append in one write and one fdatasync,
// so many small HTTP requests at once cost one disk flush. An Append's
// records are a group: after a crash either all of them are there or none
// is (the header flags mark a group's first and last record, and Open drops
// a group cut short). When Append returns an error nothing was stored,
// except after a failed write or fsync: the spool then refuses appends until
// it is reopened, and Open delivers whatever intact records the file holds.
// Delivery is at least once: a record acknowledged to a sender is delivered
// until the producer Acks it; a record may be delivered twice (after a
// crash before its Ack reached the disk, or after Rewind). Downstream
// stages drop duplicates by event_id.
//
// Sync "none" never flushes: records survive a process crash (they are in
// the page cache) but not a power loss. It is for tests and benchmarks.
//
// # Full spool: fail or block
//
// max_bytes bounds the segment files on disk. An Append that would pass it
// fails at once with ErrFull and stores nothing; nothing is ever dropped
// silently. The caller chooses what to do with its sender:
//
//   - the HTTP receiver answers 503 with Retry-After: its clients retry;
//   - TCP syslog and file tail cannot answer "later", so they block: call
//     WaitForSpace, which returns when the Append fits, and append again.
//     Blocking stops reading from the connection or file, and TCP flow
//     control pushes back to the sender.
//
// Space frees a segment at a time, when the producer has acknowledged every
// record in it, so up to one segment of acknowledged records stays on disk;
// max_bytes must be at least twice segment_bytes.
//
// # Reading
//
// Next returns records in append order from a read cursor; Ack moves a
// separate ack cursor. Records between the two are in flight: read, not yet
// known to be in Kafka. Rewind moves the read cursor back to the ack cursor
// so a producer that failed delivers them again, in order. The ack cursor
// is saved to the ack file on every Ack, so a restart resumes at the first
// record not acknowledged.
//
// # On-disk format
//
// The directory holds:
//
//	LOCK                          flock'ed by the process that has the spool open (holds its pid)
//	00000000000000000001.seg      segment files, named by the sequence number of their first record
//	00000000000000052345.seg        (20 digits, so names sort in order); only the last is appended to
//	ack                           the ack cursor
//	*.corrupt                     damaged segments as Open found them, kept for an operator
//	*.tmp                         an ack update or segment rewrite in progress; removed by Open
//
// A segment file is a sequence of records with no file header. Each record
// is an 18-byte header followed by the payload; integers are little-endian:
//
//	offset  size  field
//	0       1     magic and format version: 0xA1 (0xA magic, 1 version)
//	1       1     flags: 0x01 first record of an Append group, 0x02 last
//	              record of the group (a lone record has both); other bits 0
//	2       4     payload length in bytes
//	6       8     sequence number: 1 for the first record the directory ever
//	              held, one more for each record after it
//	14      4     CRC-32C (Castagnoli) of bytes 0..13 and the payload
//	18      n     payload
//
// A new segment starts when the next Append group would take the current one
// past segment_bytes; a group never spans two segments. Segments are
// deleted once every record in them is acknowledged; so is the segment being
// appended to, once it is a quarter full and fully acknowledged.
//
// The ack file is 36 bytes: "VSPA", version byte 1, three zero bytes, the
// sequence number of the last acknowledged record, the id of the segment
// holding the next record and that record's offset (each 8 bytes), then the
// CRC-32C of the first 32 bytes. It is replaced atomically: written to
// ack.tmp, fsynced, renamed over ack, and the directory fsynced. Only the
// sequence number is authoritative; the rest helps an operator. A missing
// ack file means nothing was acknowledged; an unreadable one is reported
// (Recovery.AckFileProblem) and treated the same way: every record still on
// disk is delivered again.
//
// # Recovery
//
// Open reads every segment that holds a record not acknowledged and checks
// every record: magic, flags, length, checksum, increasing sequence
// numbers, whole groups. A bad region at the end of the last segment is a
// write torn by a crash (its appenders were never answered): it is cut off,
// logged at warn, counted in vigil_collector_spool_torn_records_total and
// reported in Recovery.TornRecords; it is never delivered. A bad region
// anywhere else means the disk changed synced data. Rather than refuse to
// start (and stop accepting events) or drop the whole segment, Open keeps
// the segment as it was found in a .corrupt file for an operator, rewrites
// the segment with its intact records only (the decoder resynchronises on
// the next record whose header and checksum verify), logs at error, counts
// it in vigil_collector_spool_corrupt_regions_total and reports it in
// Recovery.Corrupt. Records after the damage are still delivered; those in
// it are counted in Recovery.MissingRecords.
//
// # Metrics
//
//	vigil_collector_spool_bytes                   gauge      bytes of records not yet acknowledged (headers included)
//	vigil_collector_spool_events                  gauge      records not yet acknowledged
//	vigil_collector_spool_disk_bytes              gauge      size of the segment files (what max_bytes limits)
//	vigil_collector_spool_appends_total{result}   counter    Append calls: ok, full, too_large, error
//	vigil_collector_spool_appended_records_total  counter    records made durable
//	vigil_collector_spool_acked_records_total     counter    records acknowledged by the producer
//	vigil_collector_spool_fsync_duration_seconds  histogram  one fdatasync per group commit
//	vigil_collector_spool_torn_records_total      counter    torn records cut off by Open
//	vigil_collector_spool_corrupt_regions_total   counter    damaged regions moved aside by Open
//
// Record contents never appear in logs, errors or metrics.
package spool
