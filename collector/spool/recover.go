package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Open opens the spool in cfg.Dir, creating the directory if needed, and
// locks it. It then recovers what an earlier process left (see the package
// doc): it reads every segment not yet fully acknowledged and verifies every
// record's checksum, cuts a torn tail off the last segment, moves damaged
// regions elsewhere to .corrupt files, deletes acknowledged segments, and
// places the read cursor on the first record not acknowledged. Recovery
// says what it found.
//
// A failed Open returns a nil *Spool, whose Close does nothing.
func Open(cfg Config, opts ...Option) (*Spool, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = discardLogger()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: creating directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(cfg.Dir, lockName))
	if err != nil {
		return nil, err
	}
	dirf, err := os.Open(cfg.Dir)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("spool: opening directory: %w", err)
	}
	s := &Spool{
		cfg:     cfg,
		dir:     cfg.Dir,
		sync:    cfg.Sync == SyncAlways,
		log:     o.logger,
		m:       m,
		lock:    lock,
		dirf:    dirf,
		wake:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		dataCh:  make(chan struct{}),
		spaceCh: make(chan struct{}),
	}
	if err := s.recover(); err != nil {
		if s.wf != nil {
			s.wf.Close()
		}
		s.closeFiles()
		return nil, err
	}
	go s.run()
	return s, nil
}

// recover builds the spool's state from its directory.
func (s *Spool) recover() error {
	dirents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: reading directory: %w", err)
	}
	var ids []uint64
	for _, e := range dirents {
		name := e.Name()
		if strings.HasSuffix(name, tmpExt) {
			// An ack update or a segment rewrite that a crash cut short:
			// the file it was to replace is intact.
			if err := os.Remove(filepath.Join(s.dir, name)); err != nil {
				return fmt.Errorf("spool: removing leftover temporary file: %w", err)
			}
			continue
		}
		if id, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)

	ack, haveAck, err := s.readAckFile()
	if err != nil {
		return err
	}
	ackSeq := ack.seq

	var (
		segs     []*segment
		present  []seqRange // sequence numbers held, in order
		prevLast uint64     // last sequence number of the segments so far
		ackCur   cursor
		ackSet   bool
	)
	for i, id := range ids {
		path := filepath.Join(s.dir, segmentName(id))
		last := i == len(ids)-1
		if haveAck && !last && ids[i+1] <= ackSeq+1 {
			// Every record in it comes before the next segment's first
			// record, so is acknowledged: Ack was removing it.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("spool: removing delivered segment: %w", err)
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("spool: reading segment: %w", err)
		}
		res := scanSegment(data, id)
		if data, err = s.repair(path, data, res, last); err != nil {
			return err
		}
		g := &segment{id: id, path: path, size: int64(len(data)), records: res.records()}
		if n := len(res.good); n > 0 {
			first := res.good[0].first
			if first <= prevLast {
				return fmt.Errorf("spool: %s starts at seq %d, which is not after seq %d of the segment before it: these segment files do not belong together", path, first, prevLast)
			}
			if !haveAck && len(present) == 0 {
				ackSeq = first - 1 // no ack file: deliver everything
			}
			g.lastSeq = res.good[n-1].last
			prevLast = g.lastSeq
			for _, sp := range res.good {
				present = append(present, seqRange{sp.first, sp.last})
			}
			if !ackSet && g.lastSeq > ackSeq {
				ackCur, ackSet = cursor{id, offsetAfter(data, ackSeq)}, true
			}
		}
		segs = append(segs, g)
	}

	// Delete acknowledged segments, the last one included (nothing
	// appends to it yet); keep an empty last segment to append to.
	keep := segs[:0]
	for i, g := range segs {
		if g.records > 0 && g.lastSeq <= ackSeq || g.records == 0 && i < len(segs)-1 {
			if err := os.Remove(g.path); err != nil {
				return fmt.Errorf("spool: removing delivered segment: %w", err)
			}
			continue
		}
		keep = append(keep, g)
	}
	segs = keep

	next := max(prevLast, ackSeq) + 1
	if n := len(segs); n > 0 {
		next = max(next, segs[n-1].id)
	}
	if !ackSet {
		ackCur = cursor{next, 0}
		if n := len(segs); n > 0 {
			ackCur = cursor{segs[n-1].id, segs[n-1].size}
		}
	}

	// Records not acknowledged, and sequence numbers among them that no
	// segment holds.
	var unRecs, missing int64
	prev := ackSeq
	for _, r := range present {
		if r.to <= ackSeq {
			continue
		}
		from := max(r.from, ackSeq+1)
		if from > prev+1 {
			s.gaps = append(s.gaps, seqRange{prev + 1, from - 1})
			missing += int64(from - 1 - prev)
		}
		unRecs += int64(r.to - from + 1)
		prev = r.to
	}

	if s.sync {
		if err := s.dirf.Sync(); err != nil {
			return fmt.Errorf("spool: syncing directory %s: %w", s.dir, err)
		}
	}
	if n := len(segs); n > 0 {
		g := segs[n-1]
		f, err := os.OpenFile(g.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("spool: opening segment for appending: %w", err)
		}
		s.wf, s.wseg, s.wsize = f, g, g.size
	}

	s.segs = segs
	for _, g := range segs {
		s.disk += g.size
	}
	s.nextSeq = next
	s.ackSeq, s.ackCur, s.readCur, s.readHigh = ackSeq, ackCur, ackCur, ackSeq
	s.unRecs = unRecs
	s.unBytes = s.unackedBytesLocked()
	s.setGaugesLocked()

	s.rec.Segments = len(segs)
	s.rec.Records = unRecs
	s.rec.Bytes = s.unBytes
	s.rec.AckedSeq = ackSeq
	s.rec.NextSeq = next
	s.rec.MissingRecords = missing
	if missing > 0 {
		s.log.Error("records missing from the spool", "dir", s.dir, "records", missing, "after_seq", ackSeq)
	}
	s.log.Info("spool opened", "dir", s.dir, "segments", len(segs), "records", unRecs, "bytes", s.unBytes, "acked_seq", ackSeq, "next_seq", next)
	return nil
}

// readAckFile reads the ack cursor. A missing file means nothing was
// acknowledged; an unreadable one is reported and treated the same way.
func (s *Spool) readAckFile() (ackState, bool, error) {
	path := filepath.Join(s.dir, ackName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ackState{}, false, nil
	}
	if err != nil {
		return ackState{}, false, fmt.Errorf("spool: reading ack file: %w", err)
	}
	a, err := decodeAck(b)
	if err != nil {
		s.rec.AckFileProblem = fmt.Sprintf("%s: %v", path, err)
		s.log.Warn("ack file unreadable; delivering every record in the spool again", "file", path, "error", err)
		return ackState{}, false, nil
	}
	return a, true, nil
}

// offsetAfter returns the offset of the first record in data (a segment's
// repaired contents) whose sequence number is after seq.
func offsetAfter(data []byte, seq uint64) int64 {
	var off int
	for off < len(data) {
		rec, why := decodeRecord(data[off:])
		if why != "" || rec.seq > seq {
			break
		}
		off += rec.size
	}
	return int64(off)
}

// repair makes the file at path hold only res.good and returns its new
// contents. A bad region at the end of the last segment is a torn write:
// it is cut off. Any other bad region is damage: the file as found is kept
// as a .corrupt file and the segment rewritten without it. Both are
// reported in s.rec, the log and the metrics.
func (s *Spool) repair(path string, data []byte, res scanResult, last bool) ([]byte, error) {
	if len(res.bad) == 0 {
		return data, nil
	}
	bad := res.bad
	var torn *badRegion
	if n := len(bad); last && bad[n-1].end == res.size {
		torn, bad = &bad[n-1], bad[:n-1]
		s.rec.TornRecords += torn.records
		s.rec.TornBytes += torn.end - torn.off
		s.m.torn.Add(float64(torn.records))
		s.log.Warn("torn records cut from the spool's tail", "file", path, "offset", torn.off,
			"bytes", torn.end-torn.off, "records", torn.records, "reason", torn.reason)
	}
	if len(bad) == 0 {
		if err := truncateFile(path, torn.off, s.sync); err != nil {
			return nil, err
		}
		return data[:torn.off], nil
	}

	quarantine, err := quarantineFile(path, data, s.sync)
	if err != nil {
		return nil, err
	}
	for _, b := range bad {
		c := Corruption{
			File:       path,
			Offset:     b.off,
			Bytes:      b.end - b.off,
			Records:    b.records,
			Reason:     fmt.Sprintf("%s at offset %d", b.reason, b.at),
			Quarantine: quarantine,
		}
		s.rec.Corrupt = append(s.rec.Corrupt, c)
		s.m.corrupt.Inc()
		s.log.Error("corrupt region of a spool segment moved aside", "file", path, "offset", c.Offset,
			"bytes", c.Bytes, "records", c.Records, "reason", c.Reason, "quarantine", quarantine)
	}
	var fixed []byte
	for _, g := range res.good {
		fixed = append(fixed, data[g.off:g.end]...)
	}
	if err := replaceFile(path, fixed, s.dirf, s.sync); err != nil {
		return nil, err
	}
	return fixed, nil
}

// quarantineFile keeps the file at path, as it is, under a new name ending
// in .corrupt, and returns that name.
func quarantineFile(path string, data []byte, sync bool) (string, error) {
	name := path + corruptExt
	for i := 1; ; i++ {
		if _, err := os.Lstat(name); errors.Is(err, fs.ErrNotExist) {
			break
		}
		name = fmt.Sprintf("%s.%d%s", path, i, corruptExt)
	}
	if err := os.Link(path, name); err == nil {
		return name, nil
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.Write(data)
		if err == nil && sync {
			err = fdatasync(f)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return "", fmt.Errorf("spool: keeping a copy of damaged segment %s: %w", path, err)
	}
	return name, nil
}

// replaceFile replaces the file at path with data: write a temporary file,
// sync it, rename it over path, sync the directory (the syncs if sync).
func replaceFile(path string, data []byte, dir *os.File, sync bool) error {
	tmp := path + tmpExt
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		_, err = f.Write(data)
		if err == nil && sync {
			err = fdatasync(f)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil && sync {
		err = dir.Sync()
	}
	if err != nil {
		return fmt.Errorf("spool: rewriting segment %s without its damaged regions: %w", path, err)
	}
	return nil
}

// truncateFile cuts the file at path to size bytes and syncs it (if sync).
func truncateFile(path string, size int64, sync bool) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil {
		err = f.Truncate(size)
		if err == nil && sync {
			err = fdatasync(f)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("spool: cutting torn records off %s: %w", path, err)
	}
	return nil
}
