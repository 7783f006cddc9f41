package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors callers branch on. Each is wrapped with the details; test with
// errors.Is.
var (
	// ErrFull means the spool holds spool.max_bytes: nothing was written.
	// Answer the sender "try again later" (HTTP 503 with Retry-After), or
	// wait with WaitForSpace and append again (TCP receivers, file tail).
	ErrFull = errors.New("spool: full")

	// ErrRecordTooLarge means a record is larger than
	// spool.max_record_bytes, or the records of one Append do not fit in one
	// segment: nothing was written and trying again cannot succeed. Reject
	// the input (HTTP 413) or split the batch.
	ErrRecordTooLarge = errors.New("spool: record too large")

	// ErrClosed means the spool was closed; a queued Append was not written.
	ErrClosed = errors.New("spool: closed")

	// ErrLocked means another process (or another Spool in this process)
	// has the directory open. Stop the other collector or use another
	// spool.dir.
	ErrLocked = errors.New("spool: directory in use")
)

// CorruptError is returned by Next when a record on disk no longer matches
// its checksum (the disk changed it after it was written). Reading cannot
// go past it; reopening the spool moves the damaged region aside (see
// Recovery) and delivers the rest.
type CorruptError struct {
	File   string // segment file
	Offset int64  // offset of the damaged record
	Reason string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("spool: corrupt record in %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// Position identifies a record in the spool. Positions come from Next and
// go back to Ack.
type Position struct {
	// Seq is the record's sequence number: 1 for the first record a spool
	// directory ever held, one more for each record after it. A sequence
	// number is never reused, so (with the spool's directory) it names the
	// record.
	Seq uint64
	// Segment is the id of the segment file holding the record (the file is
	// named Segment in 20 decimal digits plus ".seg").
	Segment uint64
	// Offset is where the record's header starts in the segment file.
	Offset int64
	// End is where the record ends: the Offset of the next record.
	End int64
}

func (p Position) String() string {
	return fmt.Sprintf("seq %d (%s@%d)", p.Seq, segmentName(p.Segment), p.Offset)
}

// Entry is a record returned by Next.
type Entry struct {
	Pos Position
	// Data is the record as appended. It is the caller's: the spool never
	// writes to it again.
	Data []byte
}

// Stats is a snapshot of the spool's size.
type Stats struct {
	Bytes     int64 // bytes (headers included) of records not yet acknowledged
	Records   int64 // records not yet acknowledged, read or not
	Segments  int   // segment files
	DiskBytes int64 // size of the segment files: what spool.max_bytes limits
}

// Recovery is what Open found in the directory.
type Recovery struct {
	Segments int    // segment files kept
	Records  int64  // records not yet acknowledged, to be delivered
	Bytes    int64  // their size, headers included
	AckedSeq uint64 // sequence number of the last acknowledged record
	NextSeq  uint64 // sequence number the next appended record gets

	// TornRecords and TornBytes are what was cut from the tail of the last
	// segment: records partly written when the process or the machine
	// crashed, and records of an Append group cut short. Their appenders
	// were never told they were stored. Expected after a crash.
	TornRecords int
	TornBytes   int64

	// Corrupt lists damaged regions found elsewhere (not expected: the disk
	// changed data after it was synced). Each was moved to a .corrupt file
	// and the segment rewritten without it; records after it are delivered.
	Corrupt []Corruption

	// MissingRecords counts sequence numbers after AckedSeq that no segment
	// holds: records lost in a corrupt region, or segment files deleted by
	// hand. Zero unless Corrupt is non-empty or files were removed.
	MissingRecords int64

	// AckFileProblem says why the ack file could not be read ("" when it
	// was fine or absent). The spool then redelivers every record it holds.
	AckFileProblem string
}

// Corruption is one damaged region of a segment file, found by Open.
type Corruption struct {
	File       string // segment file, as it was found
	Offset     int64  // first byte of the region
	Bytes      int64  // length of the region
	Records    int    // records (whole or broken) in the region
	Reason     string // what was wrong, and where
	Quarantine string // file holding the segment as it was found
}

// Option changes how Open builds a Spool.
type Option func(*options)

type options struct {
	logger *slog.Logger
	reg    prometheus.Registerer
}

// WithLogger sends the spool's messages to l: recovery findings at warn
// (torn records) or error (corruption), write failures at error. Nil means
// discard. Record contents are never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the spool's metrics (see the package doc) with
// r. Nil means do not register.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// Spool is a disk-backed, append-only queue of records. Append is safe for
// many goroutines at once; Next, Ack and Rewind are meant for one consumer
// (they are safe to call concurrently, but the order of delivery then means
// little). Close ends everything.
type Spool struct {
	cfg  Config
	dir  string
	sync bool
	log  *slog.Logger
	m    *metrics
	lock *os.File
	dirf *os.File // the directory, for fsync after creating, renaming or removing files
	rec  Recovery

	wake    chan struct{} // capacity 1: appends are queued
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when the committer has returned

	amu sync.Mutex // serialises Ack

	rmu     sync.Mutex // serialises reading; guards the reader's state:
	rf      *os.File   // open segment file
	rfID    uint64     // its id
	rbuf    []byte     // bytes read ahead from segment rbufSeg at rbufOff
	rbufSeg uint64
	rbufOff int64

	wmu     sync.Mutex // held by the committer while it writes; guards:
	wf      *os.File   // the segment appended to; nil: create one on the next write
	wseg    *segment
	wsize   int64 // bytes written to wf and published
	nextSeq uint64
	wbuf    []byte

	mu       sync.Mutex // guards everything below
	closed   bool
	failed   error      // a write failed in a way that leaves the file's state unknown
	queue    []*request // appends waiting for the committer
	qspare   []*request
	pending  int64 // bytes reserved by queued appends and by the one being written
	segs     []*segment
	disk     int64 // size of the segment files
	unBytes  int64 // bytes of records not yet acknowledged
	unRecs   int64 // records not yet acknowledged
	ackSeq   uint64
	ackCur   cursor // just after the last acknowledged record
	readCur  cursor // where Next continues
	readHigh uint64 // highest sequence number Next returned
	gaps     []seqRange
	dataCh   chan struct{} // closed and replaced when records are published
	spaceCh  chan struct{} // closed and replaced when space is freed
}

// segment is a segment file as the spool knows it: only published (synced)
// records count.
type segment struct {
	id      uint64
	path    string
	size    int64
	records int64
	lastSeq uint64 // 0 when empty
}

// cursor is a place in the spool: offset off in segment seg. A cursor naming
// a segment that no longer exists means the start of the first segment
// after it.
type cursor struct {
	seg uint64
	off int64
}

func (c cursor) less(d cursor) bool { return c.seg < d.seg || c.seg == d.seg && c.off < d.off }

// seqRange is the sequence numbers from through to, inclusive.
type seqRange struct{ from, to uint64 }

// request is one Append waiting for the committer.
type request struct {
	recs  [][]byte
	size  int64 // encoded size of recs
	taken bool  // the committer is writing it (guarded by Spool.mu)
	done  chan error
}

// Append stores recs as one group: when it returns nil, every record is
// on disk (fsynced with sync "always") and will be returned by Next even if
// the process or machine crashes right after; when it returns an error,
// none of them is delivered, except after a failed write or fsync: the
// records may then be on disk after all, and delivered once the spool is
// reopened (the sender, told of the failure, may send them again: at least
// once). Concurrent Appends share one write and one fsync (group commit).
//
// Append waits for its records to be written, or until ctx is done: once
// the write has started it waits for its outcome, so that its answer is
// always definite. It fails fast with ErrFull when the spool holds
// spool.max_bytes, with ErrRecordTooLarge for an oversized record, and with
// ErrClosed after Close. recs is not kept after Append returns.
func (s *Spool) Append(ctx context.Context, recs ...[]byte) error {
	if len(recs) == 0 {
		return nil
	}
	need, err := s.groupSize(recs)
	if err != nil {
		s.m.appendsLarge.Inc()
		return err
	}
	if err := ctx.Err(); err != nil {
		s.m.appendsError.Inc()
		return fmt.Errorf("spool: append: %w", err)
	}
	req := &request{recs: recs, size: need, done: make(chan error, 1)}

	s.mu.Lock()
	if err := s.usableLocked(); err != nil {
		s.mu.Unlock()
		s.m.appendsError.Inc()
		return err
	}
	if s.disk+s.pending+need > s.cfg.MaxBytes {
		disk, pending := s.disk, s.pending
		s.mu.Unlock()
		s.m.appendsFull.Inc()
		return fmt.Errorf("%w: %d bytes in segment files and %d being written; %d more would pass spool.max_bytes (%d)",
			ErrFull, disk, pending, need, s.cfg.MaxBytes)
	}
	s.pending += need
	s.queue = append(s.queue, req)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}

	select {
	case err = <-req.done:
	case <-ctx.Done():
		err = s.abandon(req, ctx.Err())
	}
	if err != nil {
		s.m.appendsError.Inc()
		return err
	}
	s.m.appendsOK.Inc()
	return nil
}

// groupSize returns the encoded size of recs, or ErrRecordTooLarge.
func (s *Spool) groupSize(recs [][]byte) (int64, error) {
	var n int64
	for i, r := range recs {
		if len(r) > s.cfg.MaxRecordBytes {
			return 0, fmt.Errorf("%w: record %d of %d is %d bytes, more than spool.max_record_bytes (%d)",
				ErrRecordTooLarge, i+1, len(recs), len(r), s.cfg.MaxRecordBytes)
		}
		n += HeaderSize + int64(len(r))
	}
	if n > s.cfg.SegmentBytes {
		return 0, fmt.Errorf("%w: %d records take %d bytes with headers, more than spool.segment_bytes (%d); append them in smaller groups",
			ErrRecordTooLarge, len(recs), n, s.cfg.SegmentBytes)
	}
	return n, nil
}

// abandon takes req off the queue if the committer has not taken it yet;
// else it waits for the write's outcome.
func (s *Spool) abandon(req *request, cause error) error {
	s.mu.Lock()
	if !req.taken {
		if i := slices.Index(s.queue, req); i >= 0 {
			s.queue = slices.Delete(s.queue, i, i+1)
			s.pending -= req.size
			s.signalSpaceLocked()
			s.mu.Unlock()
			return fmt.Errorf("spool: append abandoned before it was written: %w", cause)
		}
	}
	s.mu.Unlock()
	return <-req.done
}

// WaitForSpace blocks until Append(ctx, recs...) would not fail with
// ErrFull, ctx is done, or the spool is closed. With no recs it waits for
// room for one record of spool.max_record_bytes. Receivers that can hold
// their sender back (TCP syslog, file tail) call it after ErrFull and then
// append again; another appender may take the space first, so loop:
//
//	for {
//		err := s.Append(ctx, recs...)
//		if !errors.Is(err, spool.ErrFull) {
//			return err
//		}
//		if err := s.WaitForSpace(ctx, recs...); err != nil {
//			return err
//		}
//	}
func (s *Spool) WaitForSpace(ctx context.Context, recs ...[]byte) error {
	need := int64(HeaderSize + s.cfg.MaxRecordBytes)
	if len(recs) > 0 {
		var err error
		if need, err = s.groupSize(recs); err != nil {
			return err
		}
	}
	for {
		s.mu.Lock()
		if err := s.usableLocked(); err != nil {
			s.mu.Unlock()
			return err
		}
		if s.disk+s.pending+need <= s.cfg.MaxBytes {
			s.mu.Unlock()
			return nil
		}
		ch := s.spaceCh
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("spool: waiting for space: %w", ctx.Err())
		case <-s.closing:
			return ErrClosed
		case <-ch:
		}
	}
}

func (s *Spool) usableLocked() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.failed != nil:
		return fmt.Errorf("spool: an earlier write failed; close and reopen the spool to recover: %w", s.failed)
	}
	return nil
}

func (s *Spool) signalSpaceLocked() {
	close(s.spaceCh)
	s.spaceCh = make(chan struct{})
}

// run is the committer: it writes what Append queued, one batch at a time.
func (s *Spool) run() {
	defer close(s.done)
	for {
		select {
		case <-s.closing:
			return
		case <-s.wake:
		}
		for s.commit() {
		}
	}
}

// commit writes, syncs and publishes every queued append; it returns false
// when there was none.
func (s *Spool) commit() bool {
	s.mu.Lock()
	if s.closed || len(s.queue) == 0 {
		s.mu.Unlock()
		return false
	}
	batch := s.queue
	s.queue = s.qspare[:0]
	for _, r := range batch {
		r.taken = true
	}
	failed := s.usableLocked()
	s.mu.Unlock()

	if failed != nil {
		s.finish(batch, failed)
	} else {
		s.wmu.Lock()
		s.writeBatch(batch)
		s.wmu.Unlock()
	}

	clear(batch)
	s.mu.Lock()
	s.qspare = batch[:0]
	s.mu.Unlock()
	if len(batch) > 1 {
		s.gather()
	}
	return true
}

// gather lets the appenders just answered run before the next batch is
// taken: under load, those that append again then share the next fsync
// instead of waiting for one more (measured: about 95 records per fsync
// with 128 appenders, against 64 without). It yields until the queue stops
// growing, at most a few times: microseconds, against an fsync's hundreds.
func (s *Spool) gather() {
	n := s.queued()
	for range 8 {
		runtime.Gosched()
		m := s.queued()
		if m == n {
			return
		}
		n = m
	}
}

func (s *Spool) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// writeBatch writes batch in order, in as few writes as segment boundaries
// allow, and answers every request in it.
func (s *Spool) writeBatch(batch []*request) {
	buf := s.wbuf[:0]
	start := 0
	for i, req := range batch {
		used := s.wsize + int64(len(buf))
		if s.wf == nil || used > 0 && used+req.size > s.cfg.SegmentBytes {
			if len(buf) > 0 {
				if err := s.flush(buf, batch[start:i]); err != nil {
					s.finish(batch[i:], err)
					return
				}
				buf, start = buf[:0], i
			}
			if err := s.roll(); err != nil {
				s.finish(batch[i:], err)
				return
			}
		}
		for j, rec := range req.recs {
			var flags byte
			if j == 0 {
				flags |= flagFirst
			}
			if j == len(req.recs)-1 {
				flags |= flagLast
			}
			buf = appendRecord(buf, flags, s.nextSeq, rec)
			s.nextSeq++
		}
	}
	if len(buf) > 0 {
		_ = s.flush(buf, batch[start:]) // flush answers the requests
	}
	if cap(buf) <= 4<<20 {
		s.wbuf = buf[:0]
	} else {
		s.wbuf = nil
	}
}

// flush writes buf (the encoded records of reqs) at the end of the current
// segment, syncs it, publishes the records and answers reqs.
func (s *Spool) flush(buf []byte, reqs []*request) error {
	var n int64
	for _, r := range reqs {
		n += int64(len(r.recs))
	}
	off := s.wsize
	if _, err := s.wf.WriteAt(buf, off); err != nil {
		err = fmt.Errorf("spool: writing %d bytes to %s at offset %d: %w", len(buf), s.wf.Name(), off, err)
		if terr := s.wf.Truncate(off); terr != nil {
			s.fail(errors.Join(err, fmt.Errorf("spool: cutting %s back to %d bytes: %w", s.wf.Name(), off, terr)))
		}
		s.nextSeq -= uint64(n)
		s.finish(reqs, err)
		return err
	}
	if s.sync {
		t := time.Now()
		err := fdatasync(s.wf)
		s.m.fsync.Observe(time.Since(t).Seconds())
		if err != nil {
			// After a failed fsync the kernel may have dropped the data
			// from its cache: the file's state is unknown until it is
			// read back, which Open does.
			err = fmt.Errorf("spool: syncing %s: %w", s.wf.Name(), err)
			s.fail(err)
			s.finish(reqs, err)
			return err
		}
	}
	s.wsize += int64(len(buf))

	s.mu.Lock()
	g := s.wseg
	g.size += int64(len(buf))
	g.records += n
	g.lastSeq = s.nextSeq - 1
	s.disk += int64(len(buf))
	s.pending -= int64(len(buf))
	s.unBytes += int64(len(buf))
	s.unRecs += n
	s.setGaugesLocked()
	close(s.dataCh)
	s.dataCh = make(chan struct{})
	for _, r := range reqs {
		r.done <- nil
	}
	s.mu.Unlock()
	s.m.records.Add(float64(n))
	return nil
}

// finish answers reqs with err and releases their reservations.
func (s *Spool) finish(reqs []*request, err error) {
	if len(reqs) == 0 {
		return
	}
	s.mu.Lock()
	for _, r := range reqs {
		s.pending -= r.size
		r.done <- err
	}
	s.signalSpaceLocked()
	s.mu.Unlock()
}

// fail puts the spool in the failed state: appends fail until it is
// reopened.
func (s *Spool) fail(err error) {
	s.log.Error("spool write failed; appends refused until the spool is reopened", "dir", s.dir, "error", err)
	s.mu.Lock()
	if s.failed == nil {
		s.failed = err
	}
	s.mu.Unlock()
}

// roll closes the current segment and starts a new one, named after the
// sequence number of the next record.
func (s *Spool) roll() error {
	if s.wf != nil {
		if err := s.wf.Close(); err != nil {
			s.log.Warn("closing a full segment failed", "file", s.wf.Name(), "error", err)
		}
		s.wf, s.wseg, s.wsize = nil, nil, 0
	}
	path := filepath.Join(s.dir, segmentName(s.nextSeq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: creating segment: %w", err)
	}
	if s.sync {
		if err := s.dirf.Sync(); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("spool: syncing directory %s after creating %s: %w", s.dir, filepath.Base(path), err)
		}
	}
	g := &segment{id: s.nextSeq, path: path}
	s.mu.Lock()
	s.segs = append(s.segs, g)
	s.mu.Unlock()
	s.wf, s.wseg, s.wsize = f, g, 0
	return nil
}

func (s *Spool) setGaugesLocked() {
	s.m.bytes.Set(float64(s.unBytes))
	s.m.events.Set(float64(s.unRecs))
	s.m.diskBytes.Set(float64(s.disk))
}

// Close stops the spool: queued appends fail with ErrClosed, blocked Next
// and WaitForSpace calls return ErrClosed, an append being written is
// finished, and the files and the directory lock are released. Close is
// safe to call twice, and on the nil *Spool a failed Open returns.
func (s *Spool) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for _, r := range s.queue {
		s.pending -= r.size
		r.done <- ErrClosed
	}
	s.queue = nil
	close(s.closing)
	s.mu.Unlock()
	<-s.done

	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.amu.Lock()
	defer s.amu.Unlock()
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var err error
	if s.wf != nil {
		// Published records are synced already (with sync "always").
		if cerr := s.wf.Close(); cerr != nil {
			err = fmt.Errorf("spool: closing %s: %w", s.wf.Name(), cerr)
		}
		s.wf = nil
	}
	s.closeFiles()
	return err
}

// closeFiles closes the reader's file, the directory and the lock (which
// releases it).
func (s *Spool) closeFiles() {
	for _, f := range []**os.File{&s.rf, &s.dirf, &s.lock} {
		if *f != nil {
			(*f).Close()
			*f = nil
		}
	}
}

// Stats returns the spool's current size.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Bytes: s.unBytes, Records: s.unRecs, Segments: len(s.segs), DiskBytes: s.disk}
}

// Recovery returns what Open found.
func (s *Spool) Recovery() Recovery {
	r := s.rec
	r.Corrupt = slices.Clone(r.Corrupt)
	return r
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
