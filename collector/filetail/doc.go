// Package filetail follows NDJSON log files, found by glob, and hands their
// lines in batches to a Handler: the collector's file receiver. It must never
// lose or skip a line it could read, so it moves past lines only once the
// handler has made them durable, and it remembers how far it got in a
// positions file that survives restarts. It polls (poll_interval, 250ms by
// default) rather than using inotify: polling is portable and works on every
// filesystem, network filesystems included.
//
// # Lines
//
// A line ends with LF; a CR before the LF is dropped (CRLF files are
// tolerated). Empty lines are skipped, never delivered. A line longer than
// max_line_bytes is delivered once with its first max_line_bytes bytes and
// Line.TooLong set (the collector dead-letters it); reading goes on at the
// next line. A last line without its newline is not delivered while the
// file may still grow: it waits for its newline. The one exception is a file
// that was rotated away (renamed, replaced at its path, or deleted) and has
// not grown for rotate_wait (5s by default): it will not be written again, so
// its unterminated last line is delivered as it is.
// (The unterminated last line of a file that stays at its path, say of a
// writer that crashed mid-line, waits until the file is rotated.)
//
// # Identifying files
//
// A file is identified by its device and inode numbers (syscall.Stat_t), not
// by its path, so a file renamed by a rotation is still the same file. Since
// a deleted file's inode may be given to a new file, the tailer also keeps a
// fingerprint: the SHA-256 of the first 256 bytes (fewer while the file is
// shorter). A saved position whose device and inode match a file but whose
// fingerprint does not is a different file, which is read from its start.
// The fingerprint is also checked whenever an open file changes, so a file
// truncated and written again past the old position between two polls is
// still seen as rewritten.
//
// # Rotation
//
// Rotation by rename (access.log → access.log.1, a new access.log created):
// the renamed file is still open and keeps being read to its end, including
// what the writer appends to its old descriptor until it reopens the path.
// The new file is read from its beginning. Nothing is lost or repeated.
// Each poll reads the least recently modified files first (rotated files
// first on equal times), and a rotated file to its end at once, so older
// lines tend to come first; order across files is best effort, order
// within a file strict. A rotated file no
// longer matching the globs is closed and forgotten (its position pruned)
// once it has not grown for rotate_wait and is read to its end; one that
// still matches (a glob such as access.log*) stays followed under its new
// name. If the tailer was stopped while a file it was following was renamed,
// it finds the file by identity in the directory it was in and finishes it
// from its saved offset. A file that was created and also rotated away while
// the tailer was stopped, and never seen, is found only if it still matches
// the globs: keep rotated names matched (access.log*) when that matters,
// and exclude compressed copies (*.gz).
//
// Rotation by copy-truncate (logrotate's copytruncate): the file is copied,
// then truncated in place. When a file's size drops below the position, or
// its first bytes change, the tailer reads it again from offset 0, logs a
// warning and counts vigil_collector_file_truncations_total. Lines written
// between the copy and the truncation are in neither file: copytruncate
// itself loses them, and no reader can get them back. Lines already read
// from the copied part are not delivered again, unless the globs also match
// the copy, which is then a new file read from its start (exclude it).
// A writer that does not open its file with O_APPEND keeps writing at its
// old offset after a truncation, which leaves a run of NUL bytes at the
// start; it is delivered as a (too long or invalid) line.
// A file truncated and written again past the old position between two
// polls is recognised only if its first 256 bytes changed (with NDJSON
// audit events, which start with ids and times, they do).
//
// Deleted files: a file deleted while open is finished like a rotated one
// (the tailer holds it open), then forgotten.
//
// Every file matching the globs is kept open (one descriptor each) while it
// matches; keep old rotated files out of the globs, or few, when there are
// many.
//
// # Positions file
//
// positions_file holds one entry per followed file identity:
//
//	{
//	  "version": 1,
//	  "files": [
//	    {
//	      "path": "/var/log/ehr/access.log",
//	      "dev": 2049,
//	      "inode": 1319,
//	      "fingerprint": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
//	      "fingerprint_bytes": 256,
//	      "offset": 734215
//	    }
//	  ]
//	}
//
// offset is just after the last line the handler acknowledged; path is where
// the file was last found. The file is replaced atomically after every
// acknowledged batch: written to a temporary file in the same directory,
// fsynced, renamed over the old one, and the directory fsynced. It is
// written with mode 0600 (paths may name people). A lock file beside it
// (positions_file + ".lock", flock) keeps a second tailer from using it.
// Positions of files that vanished are pruned once the files are gone and
// read to their end; saved positions whose file cannot be found at the next
// start are pruned then.
//
// A positions file that cannot be read as such (not JSON, truncated, an
// unknown version or field, an impossible entry) makes New and Run fail
// with an error naming the file and wrapping ErrCorruptPositions. The
// tailer does not guess: starting over would repeat or, with start_at end,
// skip lines. The operator repairs the file or removes it.
//
// start_at end applies only when the positions file does not exist yet, and
// only to the files found by the first scan: they are read from after their
// last complete line. Files appearing later, or found on any later start,
// are read from their beginning, so nothing written while the tailer was
// down is skipped.
//
// # Delivery guarantee
//
// Lines of a file reach the handler in file order, in batches of at most
// 1000 lines and 1 MiB. The handler returns nil only once the lines are
// durable downstream; until then the same batch is offered again, after a
// backoff of poll_interval doubling to 5s, for as long as Run runs: a line is
// never skipped. After the handler returns nil the position is advanced and
// persisted before anything more is read (a failing write is retried the
// same way). Across a crash or a stop the delivery is therefore
// at-least-once, and a line is repeated in exactly one case: the process
// died after the handler returned nil for its batch and before the positions
// file was replaced (at most one batch: nothing more is read until the
// position is written). A stop through ctx or Close repeats nothing the
// handler acknowledged: the positions acknowledged so far are written
// before Run returns (a batch the handler failed, for instance because its
// ctx was cancelled, is offered again by the next Run). Downstream event ids
// make a repeat harmless.
//
// # Metrics
//
// Registered only when a registerer is given; no labels (paths may contain
// user names and are never labels). Tailers sharing a registerer share these
// metrics, which then sum over them.
//
//	vigil_collector_file_lines_total             counter  lines acknowledged by the handler (too long ones included)
//	vigil_collector_file_bytes_total             counter  file bytes acknowledged (line endings and skipped bytes included)
//	vigil_collector_file_truncations_total       counter  files found truncated or rewritten and read again from 0
//	vigil_collector_file_rotations_total         counter  files found renamed, or replaced at their path
//	vigil_collector_file_handler_failures_total  counter  handler errors (each batch is retried)
//	vigil_collector_file_watched_files           gauge    files open and followed
//	vigil_collector_file_lag_bytes               gauge    bytes in followed files not yet acknowledged, as of the last poll
package filetail
