package spool

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
)

// HeaderSize is the number of bytes each record takes on disk besides its
// payload. See the package documentation for the layout.
const HeaderSize = 18

const (
	// recordMagic is the first byte of every record: 0xA is the magic
	// nibble, 1 the format version.
	recordMagic byte = 0xA1

	// flagFirst marks the first record of an Append group, flagLast its
	// last; a group of one record has both. Other bits are reserved (zero).
	flagFirst byte = 0x01
	flagLast  byte = 0x02
	flagMask       = flagFirst | flagLast

	segmentExt = ".seg"
	ackName    = "ack"
	lockName   = "LOCK"
	tmpExt     = ".tmp"
	corruptExt = ".corrupt"

	// ackFileSize is the size of the ack file; see the package doc.
	ackFileSize = 36
	ackMagic    = "VSPA"
	ackVersion  = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Reasons a record or a region of a segment is rejected. Constant strings:
// the decoder runs at every offset while it looks for the next good record.
const (
	reasonPartialHeader = "partial record header"
	reasonMagic         = "bad magic/version byte"
	reasonFlags         = "reserved flag bits set"
	reasonPartialData   = "record length runs past the end of the file"
	reasonChecksum      = "checksum mismatch"
	reasonSeq           = "sequence number out of order"
	reasonUnfinished    = "group of records cut short (no last record)"
	reasonOrphan        = "record of a group whose first record is missing"
)

// segmentName is the file name of the segment whose id is id: the id in 20
// decimal digits, so that names sort in id order.
func segmentName(id uint64) string { return fmt.Sprintf("%020d%s", id, segmentExt) }

// parseSegmentName returns the id in a segment file name.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segmentExt)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	id, err := strconv.ParseUint(digits, 10, 64)
	return id, err == nil
}

// record is one decoded record. data aliases the decoded buffer.
type record struct {
	flags byte
	seq   uint64
	data  []byte
	size  int // header plus payload
}

// appendRecord encodes one record onto dst.
func appendRecord(dst []byte, flags byte, seq uint64, data []byte) []byte {
	var h [HeaderSize]byte
	h[0] = recordMagic
	h[1] = flags
	binary.LittleEndian.PutUint32(h[2:6], uint32(len(data)))
	binary.LittleEndian.PutUint64(h[6:14], seq)
	crc := crc32.Update(crc32.Update(0, castagnoli, h[:14]), castagnoli, data)
	binary.LittleEndian.PutUint32(h[14:18], crc)
	dst = append(dst, h[:]...)
	return append(dst, data...)
}

// decodeRecord decodes the record at the start of b. It returns a non-empty
// reason (one of the reason constants) when b does not start with a whole,
// intact record; the checksum is always verified.
func decodeRecord(b []byte) (record, string) {
	if len(b) < HeaderSize {
		return record{}, reasonPartialHeader
	}
	if b[0] != recordMagic {
		return record{}, reasonMagic
	}
	if b[1]&^flagMask != 0 {
		return record{}, reasonFlags
	}
	n := binary.LittleEndian.Uint32(b[2:6])
	if uint64(n) > uint64(len(b)-HeaderSize) {
		return record{}, reasonPartialData
	}
	end := HeaderSize + int(n)
	crc := crc32.Update(crc32.Update(0, castagnoli, b[:14]), castagnoli, b[HeaderSize:end])
	if crc != binary.LittleEndian.Uint32(b[14:18]) {
		return record{}, reasonChecksum
	}
	return record{
		flags: b[1],
		seq:   binary.LittleEndian.Uint64(b[6:14]),
		data:  b[HeaderSize:end:end],
		size:  end,
	}, ""
}

// span is a run of whole, intact groups of records in a segment, with
// consecutive sequence numbers.
type span struct {
	off, end    int64
	first, last uint64 // sequence numbers of its first and last record
	records     int64
}

// badRegion is a run of bytes in a segment that holds no whole, intact
// group: a torn write, damaged data, or records of a group cut short.
type badRegion struct {
	off, end int64
	at       int64  // offset of the first problem found in it
	reason   string // what was wrong at at
	records  int    // intact records dropped with it, plus one per broken record
}

// scanResult is what scanSegment finds. good and bad are in file order,
// never overlap, and together cover the whole file.
type scanResult struct {
	size int64
	good []span
	bad  []badRegion
}

func (r scanResult) records() int64 {
	var n int64
	for _, g := range r.good {
		n += g.records
	}
	return n
}

// scanSegment checks a segment file's contents. Only whole groups of
// records (first record through last, consecutive sequence numbers, every
// checksum good) count as good. Sequence numbers must be at least minSeq
// (the segment's id) and increase through the file. After a bad record the
// scan looks for the next offset where an intact record starts, so that
// data after a damaged region is kept.
func scanSegment(data []byte, minSeq uint64) scanResult {
	r := scanResult{size: int64(len(data))}
	addBad := func(off, end, at int, reason string, records int) {
		if n := len(r.bad); n > 0 && r.bad[n-1].end == int64(off) {
			r.bad[n-1].end = int64(end)
			r.bad[n-1].records += records
			return
		}
		r.bad = append(r.bad, badRegion{off: int64(off), end: int64(end), at: int64(at), reason: reason, records: records})
	}
	addGood := func(off, end int, first, last uint64, records int64) {
		if n := len(r.good); n > 0 && r.good[n-1].end == int64(off) && r.good[n-1].last+1 == first {
			r.good[n-1].end = int64(end)
			r.good[n-1].last = last
			r.good[n-1].records += records
			return
		}
		r.good = append(r.good, span{off: int64(off), end: int64(end), first: first, last: last, records: records})
	}

	var (
		pos  int
		next = minSeq // lowest sequence number the next record may have
		open bool     // a group has started and not ended
		gOff int      // where the open group starts
		gN   int      // records in the open group so far
		gFst uint64   // first sequence number of the open group
		gLst uint64   // last sequence number of the open group so far
	)
	for pos < len(data) {
		rec, why := decodeRecord(data[pos:])
		if why == "" && !seqOK(rec.seq, next) {
			why = reasonSeq
		}
		if why != "" {
			if open {
				open = false
				addBad(gOff, pos, pos, why, gN)
			}
			end := resync(data, pos+1, next)
			addBad(pos, end, pos, why, 1)
			pos = end
			continue
		}
		switch {
		case rec.flags&flagFirst != 0:
			if open {
				addBad(gOff, pos, pos, reasonUnfinished, gN)
			}
			open, gOff, gN, gFst = true, pos, 0, rec.seq
		case !open:
			addBad(pos, pos+rec.size, pos, reasonOrphan, 1)
			next = rec.seq + 1
			pos += rec.size
			continue
		case rec.seq != gLst+1:
			open = false
			addBad(gOff, pos+rec.size, pos, reasonSeq, gN+1)
			next = rec.seq + 1
			pos += rec.size
			continue
		}
		gN++
		gLst = rec.seq
		next = rec.seq + 1
		pos += rec.size
		if rec.flags&flagLast != 0 {
			addGood(gOff, pos, gFst, gLst, int64(gN))
			open = false
		}
	}
	if open {
		addBad(gOff, len(data), len(data), reasonUnfinished, gN)
	}
	return r
}

// seqOK reports whether a record may have sequence number seq where the
// lowest acceptable one is min. The largest uint64 is never used: nothing
// could follow it.
func seqOK(seq, min uint64) bool { return seq >= min && seq < math.MaxUint64 }

// resync returns the first offset at or after from where an intact record
// with a sequence number of at least minSeq starts, or len(data).
func resync(data []byte, from int, minSeq uint64) int {
	for from < len(data) {
		i := bytes.IndexByte(data[from:], recordMagic)
		if i < 0 {
			return len(data)
		}
		from += i
		if rec, why := decodeRecord(data[from:]); why == "" && seqOK(rec.seq, minSeq) {
			return from
		}
		from++
	}
	return len(data)
}

// ackState is the content of the ack file: the last acknowledged record
// and where the record after it starts.
type ackState struct {
	seq     uint64
	segment uint64
	offset  int64
}

func encodeAck(a ackState) []byte {
	b := make([]byte, ackFileSize)
	copy(b[0:4], ackMagic)
	b[4] = ackVersion
	binary.LittleEndian.PutUint64(b[8:16], a.seq)
	binary.LittleEndian.PutUint64(b[16:24], a.segment)
	binary.LittleEndian.PutUint64(b[24:32], uint64(a.offset))
	binary.LittleEndian.PutUint32(b[32:36], crc32.Checksum(b[:32], castagnoli))
	return b
}

func decodeAck(b []byte) (ackState, error) {
	switch {
	case len(b) != ackFileSize:
		return ackState{}, fmt.Errorf("%d bytes, want %d", len(b), ackFileSize)
	case string(b[0:4]) != ackMagic || b[4] != ackVersion:
		return ackState{}, fmt.Errorf("bad magic or version %q", b[0:5])
	case crc32.Checksum(b[:32], castagnoli) != binary.LittleEndian.Uint32(b[32:36]):
		return ackState{}, fmt.Errorf("checksum mismatch")
	}
	return ackState{
		seq:     binary.LittleEndian.Uint64(b[8:16]),
		segment: binary.LittleEndian.Uint64(b[16:24]),
		offset:  int64(binary.LittleEndian.Uint64(b[24:32])),
	}, nil
}
