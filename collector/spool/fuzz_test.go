package spool

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeed encodes groups of records as a segment starting at seq 1.
func fuzzSeed(groups ...[]string) []byte {
	var b []byte
	seq := uint64(1)
	for _, g := range groups {
		for i, r := range g {
			var flags byte
			if i == 0 {
				flags |= flagFirst
			}
			if i == len(g)-1 {
				flags |= flagLast
			}
			b = appendRecord(b, flags, seq, []byte(r))
			seq++
		}
	}
	return b
}

func addFuzzSeeds(f *testing.F) {
	valid := fuzzSeed([]string{"a"}, []string{"bb", "ccc", ""}, []string{`{"event_id":"e1"}`})
	f.Add(valid)
	f.Add([]byte{})
	f.Add(valid[:len(valid)-3])
	f.Add(append(bytes.Clone(valid), 0xA1, 0x03, 0, 0))
	f.Add(append(bytes.Clone(valid), make([]byte, 64)...))
	flipped := bytes.Clone(valid)
	flipped[HeaderSize+HeaderSize+1+3] ^= 0x40
	f.Add(flipped)
	f.Add(append(bytes.Clone(valid), valid...)) // sequence numbers go back
	f.Add(fuzzSeed([]string{"x", "y"})[HeaderSize+1:])
}

// FuzzSegmentReader feeds arbitrary bytes to the segment decoder that
// recovery uses. It must never panic, must account for every byte (good
// spans and bad regions tile the file), must only call good what decodes
// with a verified checksum as whole groups with consecutive sequence
// numbers, and must report a bad tail.
func FuzzSegmentReader(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkScan(t, data)
	})
}

// FuzzRecovery opens a spool whose only segment holds arbitrary bytes.
// Open must succeed, deliver exactly the records the decoder calls good,
// and report every other byte as torn or corrupt. (Slower than
// FuzzSegmentReader: it goes through the file system.)
func FuzzRecovery(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		want, goodBytes := checkScan(t, data)
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Open(Config{Dir: dir, Sync: SyncNone, SegmentBytes: 1 << 20, MaxBytes: 2 << 20, MaxRecordBytes: 1 << 10})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		rec := s.Recovery()
		lost := rec.TornBytes
		for _, c := range rec.Corrupt {
			lost += c.Bytes
		}
		if lost != int64(len(data))-goodBytes {
			t.Fatalf("recovery reports %d bytes torn or corrupt, the decoder %d: %+v", lost, int64(len(data))-goodBytes, rec)
		}
		if rec.Records != int64(len(want)) {
			t.Fatalf("recovery found %d records, the decoder %d", rec.Records, len(want))
		}
		if len(want) == 0 {
			return
		}
		ents := readN(t, s, len(want), 1000)
		for i, e := range ents {
			if e.Pos.Seq != want[i].seq || !bytes.Equal(e.Data, want[i].data) {
				t.Fatalf("record %d: seq %d %q, want seq %d %q", i, e.Pos.Seq, e.Data, want[i].seq, want[i].data)
			}
		}
	})
}

// checkScan runs scanSegment over data and checks its result; it returns
// the good records and their size.
func checkScan(t *testing.T, data []byte) ([]record, int64) {
	t.Helper()
	res := scanSegment(data, 1)

	// Good spans and bad regions tile the file, in order.
	var off int64
	var goodBytes int64
	var want []record
	gi, bi := 0, 0
	for gi < len(res.good) || bi < len(res.bad) {
		switch {
		case gi < len(res.good) && res.good[gi].off == off:
			sp := res.good[gi]
			if sp.end <= sp.off {
				t.Fatalf("empty good span %+v", sp)
			}
			want = append(want, checkSpan(t, data, sp)...)
			goodBytes += sp.end - sp.off
			off = sp.end
			gi++
		case bi < len(res.bad) && res.bad[bi].off == off:
			b := res.bad[bi]
			if b.end <= b.off || b.at < b.off || b.at > b.end || b.reason == "" || b.records < 0 {
				t.Fatalf("bad region %+v", b)
			}
			off = b.end
			bi++
		default:
			t.Fatalf("no span or region starts at %d: %+v", off, res)
		}
	}
	if off != int64(len(data)) || res.size != int64(len(data)) {
		t.Fatalf("spans and regions end at %d, the data at %d", off, len(data))
	}
	if n := len(res.good); len(data) > 0 && (n == 0 || res.good[n-1].end != int64(len(data))) {
		if b := len(res.bad); b == 0 || res.bad[b-1].end != int64(len(data)) {
			t.Fatalf("bad tail not reported: %+v", res)
		}
	}
	return want, goodBytes
}

// checkSpan decodes a good span independently: every record verifies, the
// sequence numbers are consecutive, and the flags make whole groups.
func checkSpan(t *testing.T, data []byte, sp span) []record {
	t.Helper()
	var recs []record
	open := false
	for off := sp.off; off < sp.end; {
		r, why := decodeRecord(data[off:sp.end])
		if why != "" {
			t.Fatalf("record at %d in good span %+v: %s", off, sp, why)
		}
		if r.flags&flagFirst != 0 == open {
			t.Fatalf("record at %d: flags %#x inside a group: %v", off, r.flags, open)
		}
		open = r.flags&flagLast == 0
		if want := sp.first + uint64(len(recs)); r.seq != want {
			t.Fatalf("record at %d: seq %d, want %d", off, r.seq, want)
		}
		recs = append(recs, r)
		off += int64(r.size)
	}
	if open || int64(len(recs)) != sp.records || recs[len(recs)-1].seq != sp.last {
		t.Fatalf("good span %+v: %d records, last group open %v", sp, len(recs), open)
	}
	return recs
}
