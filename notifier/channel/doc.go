// Package channel delivers rendered notices: email over SMTP, SMS and push through a
// signed webhook, letters as a CSV batch plus one PDF per recipient, phone call lists,
// and an outbox folder for review or air-gapped delivery.
//
// Every implementation is a plain Sender: one attempt, no retries, errors wrapped in
// *Error which says whether the failure is permanent (check with IsPermanent or
// errors.As). Policy sits around them: Retry adds exponential backoff with jitter and
// stops on permanent errors, context cancellation or MaxAttempts; Fallback tries the
// next channel when a contact has no address for one (ErrNoAddress) or a permanent
// failure occurs, and the Receipt's Channel says which channel delivered. A retryable
// failure stops Fallback so that Retry, not a different channel, handles it.
//
// # Formats
//
// Email (BuildEmail, shared by SMTPSender and Outbox): RFC 5322 with CRLF line endings;
// headers From, To, Subject (RFC 2047 B-encoding for non-ASCII), Date, Message-ID
// "<notice-id@domain>" (a notice id with characters outside [A-Za-z0-9._-] is replaced by
// a hash of it), X-Vigil-Notice-ID, Content-Language, MIME-Version; body
// multipart/alternative with a UTF-8 quoted-printable text/plain part and an optional
// text/html part. The boundary is derived from the notice id, so given the same Date the
// bytes are identical.
//
// Webhook (SMS, push): POST application/json {notice_id, channel, to, text, language}
// with Idempotency-Key: <notice id>, X-Vigil-Timestamp (Unix seconds) and
// X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>; providers
// verify with VerifySignature. 2xx and 409 (already delivered) succeed with the notice id
// as MessageID; other 4xx are permanent; 429, 5xx and transport errors are retryable.
//
// Letters: Dir/letters.csv (notice_id, name, postal lines joined by newlines, language,
// pdf file name) and Dir/<notice-id>.pdf (see package notifier/pdf). Phone: a CSV call
// list (notice_id, name, phone, language, script). CSV cells whose line starts with
// = + - @ tab or CR are prefixed with a single quote against formula injection, so a
// phone number "+86…" appears as "'+86…".
//
// Outbox: Dir/<notice-id>.eml (email: exactly the bytes SMTPSender would submit) or
// Dir/<notice-id>.json (OutboxJSON, other channels).
//
// # Idempotency
//
// Outbox, LetterBatch and PhoneList are idempotent by notice id: files are written to a
// temporary file, fsynced and hard-linked into place (never overwriting), and a notice
// id already present yields the same result without a second file or row. A crash
// between writing a letter's PDF and appending its CSV row is repaired by re-sending:
// the PDF is kept and the row is added. The CSV files are append-only and guarded by an
// in-process mutex; two processes appending to the same batch file are not supported.
//
// The webhook is idempotent on the provider side through Idempotency-Key.
//
// SMTP has no idempotent submission. A crash (or a lost connection) between the
// server's 250 reply to DATA and the caller recording the result means the notice may
// be sent again. The Message-ID is derived deterministically from the notice id, so
// receivers, audit tooling and our tests can recognise and drop the duplicate; nothing
// here can prevent it.
//
// SMTP modes: starttls (required upgrade), tls (implicit TLS) and plain, which is
// refused for any host other than 127.0.0.1. AUTH PLAIN or LOGIN with a password the
// caller reads from the environment or a file. Context deadlines apply to dialing and to every
// read and write on the connection. SMTP 5xx replies are permanent, everything else
// retryable.
//
// Contacts are never logged by this package; receipts and errors carry notice ids only.
package channel
