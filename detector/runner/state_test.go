package runner

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/internal/bus"
)

func TestChunkFormat(t *testing.T) {
	c := chunk{id: newSnapID(), index: 2, count: 3, next: 1234567, size: 1 << 20, crc: 0xdeadbeef,
		at: time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC).UnixMilli(), data: []byte("payload")}
	b := appendChunk(nil, &c)
	got, err := parseChunk(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.id != c.id || got.index != c.index || got.count != c.count || got.next != c.next || got.size != c.size ||
		got.crc != c.crc || got.at != c.at || !bytes.Equal(got.data, c.data) {
		t.Errorf("round trip: got %+v, want %+v", got, c)
	}
	for _, bad := range [][]byte{nil, []byte("VIGILSN"), []byte("VIGILSN\x02........"), b[:len(chunkMagic)+8+1]} {
		if _, err := parseChunk(bad); err == nil {
			t.Errorf("parseChunk(%q): no error", bad)
		}
	}
	// index beyond count
	c.index = 3
	if _, err := parseChunk(appendChunk(nil, &c)); err == nil {
		t.Error("chunk 3 of 3 accepted")
	}
}

func TestPointer(t *testing.T) {
	p := pointer{partition: 2, offset: 99, count: 3, id: newSnapID(), next: 12345}
	got, ok := parsePointer(p.String())
	if !ok || got != p {
		t.Errorf("round trip of %q: %+v %v", p, got, ok)
	}
	for _, s := range []string{"", "something else", pointerPrefix + " 1 2 3", pointerPrefix + " a 2 3 0011223344556677 5",
		pointerPrefix + " 1 2 0 0011223344556677 5", pointerPrefix + " 1 2 3 0011 5", pointerPrefix + " 1 -2 3 0011223344556677 5"} {
		if _, ok := parsePointer(s); ok {
			t.Errorf("parsePointer(%q) accepted", s)
		}
	}
}

// TestStateStore: snapshots larger than a record are chunked, read back
// through their pointer and by a scan, and the latest wins; a smaller
// snapshot deletes the stale chunks of a larger one.
func TestStateStore(t *testing.T) {
	busCfg := startBroker(t)
	e := newEnv(t, busCfg)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, err := bus.NewClient(busCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s, err := newStateStore(busCfg, e.cfg.StateTopic, client)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()

	rng := rand.New(rand.NewPCG(1, 2))
	payload := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	// Two partitions write at once, so their chunks interleave.
	big := map[string][]byte{"g/t/0": payload(2*chunkSize + 1000), "g/t/1": payload(chunkSize + 1)}
	ptrs := map[string]pointer{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for prefix, data := range big {
		wg.Go(func() {
			p, err := s.write(ctx, prefix, 100, data, 0, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ptrs[prefix] = p
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if c := ptrs["g/t/0"].count; c != 3 {
		t.Errorf("%d chunks, want 3", c)
	}
	for prefix, data := range big {
		snap, ok, err := s.read(ctx, prefix, ptrs[prefix])
		if err != nil || !ok || !bytes.Equal(snap.data, data) || snap.ptr != ptrs[prefix] {
			t.Errorf("read %s: ok %v err %v, %d bytes (want %d), ptr %v (want %v)", prefix, ok, err, len(snap.data), len(data), snap.ptr, ptrs[prefix])
		}
		snap, ok, err = s.scan(ctx, prefix)
		if err != nil || !ok || !bytes.Equal(snap.data, data) || snap.ptr != ptrs[prefix] {
			t.Errorf("scan %s: ok %v err %v, %d bytes (want %d), ptr %v (want %v)", prefix, ok, err, len(snap.data), len(data), snap.ptr, ptrs[prefix])
		}
	}
	// A pointer to a snapshot of another prefix finds nothing.
	if _, ok, err := s.read(ctx, "g/t/9", ptrs["g/t/0"]); ok || err != nil {
		t.Errorf("read with another partition's pointer: ok %v err %v", ok, err)
	}
	if _, ok, err := s.scan(ctx, "g/t/9"); ok || err != nil {
		t.Errorf("scan of a partition without snapshots: ok %v err %v", ok, err)
	}

	// A smaller snapshot replaces the big one; its stale chunks get
	// tombstones, and the scan finds the new one.
	small := payload(10)
	p2, err := s.write(ctx, "g/t/0", 200, small, ptrs["g/t/0"].count, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	snap, ok, err := s.scan(ctx, "g/t/0")
	if err != nil || !ok || !bytes.Equal(snap.data, small) || snap.ptr != p2 || snap.ptr.next != 200 {
		t.Errorf("scan after a smaller snapshot: ok %v err %v, %d bytes, ptr %v (want %v)", ok, err, len(snap.data), snap.ptr, p2)
	}
	// An empty snapshot is one chunk.
	p3, err := s.write(ctx, "g/t/2", 0, nil, 0, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if snap, ok, err := s.read(ctx, "g/t/2", p3); err != nil || !ok || len(snap.data) != 0 {
		t.Errorf("read of an empty snapshot: ok %v err %v", ok, err)
	}
}
