package spool

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

const (
	// readChunk is how much Next reads from a segment file at a time.
	readChunk = 1 << 20
	// nextBytes bounds the payload bytes one Next call returns (it returns
	// at least one record, whatever its size).
	nextBytes = 4 << 20
)

// Next returns up to max records (at least one; max below 1 means 1) in
// append order, starting after the last record it returned, or, after
// Rewind or a restart, after the last acknowledged one. It blocks until a
// record is available, ctx is done, or the spool is closed (ErrClosed).
// One call returns at most about 4 MiB of records.
//
// Records returned are not removed: Ack them once they are safe elsewhere.
// A record that fails its checksum on the way stops reading with a
// *CorruptError.
func (s *Spool) Next(ctx context.Context, max int) ([]Entry, error) {
	if max < 1 {
		max = 1
	}
	for {
		s.rmu.Lock()
		ents, wait, err := s.read(max)
		s.rmu.Unlock()
		if err != nil || len(ents) > 0 {
			return ents, err
		}
		if wait == nil {
			continue // the segment was deleted under the reader: look again
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("spool: waiting for records: %w", ctx.Err())
		case <-s.closing:
			return nil, ErrClosed
		case <-wait:
		}
	}
}

// read returns the records available now at the read cursor. With none, it
// returns the channel that is closed when more are published, or a nil
// channel when the caller should simply look again. s.rmu is held.
func (s *Spool) read(max int) ([]Entry, <-chan struct{}, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, ErrClosed
	}
	wait := s.dataCh
	g, off, ok := s.resolveLocked(s.readCur)
	if !ok {
		s.mu.Unlock()
		return nil, wait, nil
	}
	id, path, end := g.id, g.path, g.size
	s.mu.Unlock()

	ents, next, err := s.readSegment(id, path, off, end, max)
	if errors.Is(err, fs.ErrNotExist) {
		s.mu.Lock()
		_, still := slices.BinarySearchFunc(s.segs, id, func(g *segment, id uint64) int { return cmp.Compare(g.id, id) })
		s.mu.Unlock()
		if !still {
			// Ack deleted the segment: it acknowledged records that
			// were being read again after Rewind, and moved the read
			// cursor past them. Look again.
			return nil, nil, nil
		}
	}
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	if c := (cursor{id, next}); s.readCur.less(c) {
		s.readCur = c
	}
	if last := ents[len(ents)-1].Pos.Seq; last > s.readHigh {
		s.readHigh = last
	}
	s.mu.Unlock()
	return ents, nil, nil
}

// resolveLocked finds the first record at or after c: its segment and
// offset. ok is false when there is none yet.
func (s *Spool) resolveLocked(c cursor) (g *segment, off int64, ok bool) {
	i, found := slices.BinarySearchFunc(s.segs, c.seg, func(g *segment, id uint64) int { return cmp.Compare(g.id, id) })
	if i == len(s.segs) {
		return nil, 0, false
	}
	if found {
		off = c.off
	}
	for off >= s.segs[i].size {
		if i+1 == len(s.segs) {
			return nil, 0, false
		}
		i, off = i+1, 0
	}
	return s.segs[i], off, true
}

// readSegment decodes up to max records of segment id from off, not past
// end (its published size). It returns them and the offset after the last.
func (s *Spool) readSegment(id uint64, path string, off, end int64, max int) ([]Entry, int64, error) {
	if s.rf == nil || s.rfID != id {
		if s.rf != nil {
			s.rf.Close()
			s.rf = nil
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, 0, fmt.Errorf("spool: opening segment for reading: %w", err)
		}
		s.rf, s.rfID = f, id
	}
	if s.rbufSeg != id || s.rbufOff != off {
		s.rbuf = nil
	}
	var (
		ents  []Entry
		bytes int
	)
	for len(ents) < max && off < end && bytes < nextBytes {
		rec, why := decodeRecord(s.rbuf)
		// The first fill reads a chunk; a second one, if the record is
		// larger, reads it whole.
		for fills := 0; fills < 2 && (why == reasonPartialHeader || why == reasonPartialData); fills++ {
			if err := s.fill(path, id, off, end); err != nil {
				return nil, 0, err
			}
			rec, why = decodeRecord(s.rbuf)
		}
		if why != "" {
			return nil, 0, &CorruptError{File: path, Offset: off, Reason: why}
		}
		ents = append(ents, Entry{
			Pos:  Position{Seq: rec.seq, Segment: id, Offset: off, End: off + int64(rec.size)},
			Data: rec.data,
		})
		bytes += len(rec.data)
		off += int64(rec.size)
		s.rbuf = s.rbuf[rec.size:]
		s.rbufOff = off
	}
	return ents, off, nil
}

// fill reads segment id from off into a new read-ahead buffer: a chunk, or
// the whole record at off if it is larger, never past end.
func (s *Spool) fill(path string, id uint64, off, end int64) error {
	n := min(end-off, readChunk)
	if len(s.rbuf) >= HeaderSize {
		if _, why := decodeRecord(s.rbuf); why == reasonPartialData {
			need := int64(HeaderSize) + int64(binary.LittleEndian.Uint32(s.rbuf[2:6]))
			if need > end-off {
				return &CorruptError{File: path, Offset: off, Reason: reasonPartialData}
			}
			n = max(n, need)
		}
	}
	if n < HeaderSize {
		return &CorruptError{File: path, Offset: off, Reason: reasonPartialHeader}
	}
	buf := make([]byte, n)
	if _, err := s.rf.ReadAt(buf, off); err != nil {
		return fmt.Errorf("spool: reading %d bytes of %s at offset %d: %w", n, path, off, err)
	}
	s.rbuf, s.rbufSeg, s.rbufOff = buf, id, off
	return nil
}

// Rewind moves the read cursor back to the first record not acknowledged:
// the records Next returned since are returned again, in order. A producer
// calls it when it could not deliver what it read.
func (s *Spool) Rewind() error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.readCur = s.ackCur
	s.rbuf = nil
	return nil
}

// Ack marks the record at pos and every record before it as delivered:
// they are not returned again, even after a restart, and segment files
// whose records are all acknowledged are deleted. Ack returns once the ack
// cursor is on disk (fsynced with sync "always"); a crash before that
// makes Next return those records again after the restart.
//
// pos must come from Next. Acknowledging a position at or before the ack
// cursor does nothing. Positions Next returned before a Rewind may still
// be acknowledged: the read cursor then skips what they cover.
func (s *Spool) Ack(pos Position) error {
	s.amu.Lock()
	defer s.amu.Unlock()

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if pos.Seq <= s.ackSeq {
		s.mu.Unlock()
		return nil
	}
	if err := s.checkPosLocked(pos); err != nil {
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()

	if err := s.writeAck(ackState{seq: pos.Seq, segment: pos.Segment, offset: pos.End}); err != nil {
		return err
	}

	s.wmu.Lock()
	s.mu.Lock()
	acked := s.countLocked(s.ackSeq, pos.Seq)
	s.ackSeq = pos.Seq
	s.ackCur = cursor{pos.Segment, pos.End}
	if s.readCur.less(s.ackCur) {
		s.readCur = s.ackCur
	}
	var drop []*segment
	keep := make([]*segment, 0, len(s.segs))
	for i, g := range s.segs {
		done := g.records == 0 || g.lastSeq <= s.ackSeq
		switch {
		case done && i < len(s.segs)-1:
			drop = append(drop, g)
		case done && g.records > 0 && g == s.wseg && g.size >= s.cfg.SegmentBytes/4:
			// Every record in the segment being appended to is
			// acknowledged: retire it now rather than keep its space
			// until it fills. The next append starts a new one.
			if err := s.wf.Close(); err != nil {
				s.log.Warn("closing a delivered segment failed", "file", g.path, "error", err)
			}
			s.wf, s.wseg, s.wsize = nil, nil, 0
			drop = append(drop, g)
		default:
			keep = append(keep, g)
		}
	}
	s.segs = keep
	for len(s.gaps) > 0 && s.gaps[0].to <= s.ackSeq {
		s.gaps = s.gaps[1:]
	}
	s.unRecs -= acked
	s.unBytes = s.unackedBytesLocked()
	s.setGaugesLocked()
	s.mu.Unlock()
	s.wmu.Unlock()
	s.m.acked.Add(float64(acked))

	if len(drop) > 0 {
		var freed int64
		for _, g := range drop {
			// The ack file naming a later record is on disk: a segment
			// that survives its removal in a crash is removed by Open.
			if err := os.Remove(g.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.log.Error("removing a delivered segment failed; Open will retry", "file", g.path, "error", err)
			}
			freed += g.size
		}
		s.mu.Lock()
		s.disk -= freed
		s.setGaugesLocked()
		s.signalSpaceLocked()
		s.mu.Unlock()
	}
	return nil
}

// checkPosLocked reports whether pos can be a position Next returned and
// not yet acknowledged.
func (s *Spool) checkPosLocked(pos Position) error {
	if pos.Seq > s.readHigh {
		return fmt.Errorf("spool: ack of %v: Next has returned records up to seq %d only", pos, s.readHigh)
	}
	i, found := slices.BinarySearchFunc(s.segs, pos.Segment, func(g *segment, id uint64) int { return cmp.Compare(g.id, id) })
	if !found {
		return fmt.Errorf("spool: ack of %v: no such segment", pos)
	}
	g := s.segs[i]
	if pos.Seq < g.id || pos.Seq > g.lastSeq || pos.Offset < 0 || pos.End > g.size || pos.End < pos.Offset+HeaderSize {
		return fmt.Errorf("spool: ack of %v: not a position Next returned", pos)
	}
	return nil
}

// countLocked returns how many records have sequence numbers in (lo, hi].
func (s *Spool) countLocked(lo, hi uint64) int64 {
	n := int64(hi - lo)
	for _, r := range s.gaps {
		from, to := max(r.from, lo+1), min(r.to, hi)
		if from <= to {
			n -= int64(to - from + 1)
		}
	}
	return n
}

// unackedBytesLocked sums the bytes after the ack cursor.
func (s *Spool) unackedBytesLocked() int64 {
	var n int64
	for _, g := range s.segs {
		switch {
		case g.id == s.ackCur.seg:
			n += g.size - s.ackCur.off
		case g.id > s.ackCur.seg:
			n += g.size
		}
	}
	return n
}

// writeAck replaces the ack file: write a temporary file, sync it, rename
// it over the old one, sync the directory.
func (s *Spool) writeAck(a ackState) error {
	tmp := filepath.Join(s.dir, ackName+tmpExt)
	final := filepath.Join(s.dir, ackName)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("spool: writing ack file: %w", err)
	}
	_, err = f.Write(encodeAck(a))
	if err == nil && s.sync {
		err = fdatasync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err == nil && s.sync {
		if err = s.dirf.Sync(); err != nil {
			err = fmt.Errorf("syncing directory %s: %w", s.dir, err)
		}
	}
	if err != nil {
		return fmt.Errorf("spool: writing ack file %s: %w", final, err)
	}
	return nil
}
