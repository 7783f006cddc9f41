// Package delivery tracks notices from plan to delivery so that a crash or
// restart at any point neither sends a recipient two notices for one
// obligation nor skips one.
//
// # The ledger
//
// Every notice has a deterministic id, event.NoticeID(incident, recipient
// token, obligation): planning the same obligation for the same recipient
// twice gives the same notice. The Ledger holds the latest state of every
// notice (event.Notice, its State and Attempts) and makes each change
// durable in a Journal before acting on it:
//
//	Plan      planned   recorded once per notice id; a second Plan of the
//	                    same id returns the recorded notice unchanged
//	Approve   approved  who approved and when are the caller's record
//	Deliver   sending   recorded (Attempts+1) BEFORE the channel is called
//	          sent      recorded after the channel accepted, with its
//	                    message id
//	          approved  after a retryable failure, with LastError: the
//	                    caller tries again later (Backoff says when)
//	          failed    after a permanent failure or MaxAttempts
//	Skip      skipped   not needed (covered by a public notice, waived)
//
// Deliver of a notice already sent or skipped returns it without calling
// the channel: that is what makes a replayed plan, a redelivered command
// or a restarted sender harmless.
//
// # Crashes
//
// On start the Ledger replays the journal. A notice whose last record is
// "sending" was in flight when the process stopped: the channel may or may
// not have accepted it. Deliver sends it again with the same notice id,
// which every channel turns into its idempotency key: the webhook
// provider's Idempotency-Key, the outbox, letter and call-list file names,
// and the SMTP Message-ID. Webhook providers, the outbox and the letter and
// call lists therefore hold exactly one notice per id. SMTP has no
// idempotent submission: if the process dies after the mail server's "250"
// and before "sent" is recorded, the mail is submitted again with the same
// Message-ID, and mailboxes that drop duplicate Message-IDs (and Vigil's
// tests, which count by Message-ID) see one notice. Ledger.Stats counts
// these re-sends (Resent) so that they are visible.
//
// # Journal
//
// KafkaJournal keeps the records on the notices topic (vigil.notices.v1),
// keyed by notice id, each record the notice's full state as JSON; a
// compacted topic keeps the latest per id. Append returns when the broker
// acknowledged the records (acks=all). MemoryJournal keeps them in memory
// for tests.
//
// # Metrics
//
// vigil_notifier_notices_total{channel,status} counts notice state
// changes recorded by this process (status: planned, approved, sending,
// sent, failed, skipped, retry).
// vigil_notifier_notice_resends_total counts deliveries of notices found
// "sending" after a restart.
package delivery
