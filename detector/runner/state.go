package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/internal/bus"
)

// The state topic's records (see the package doc, "State records").
const (
	// chunkMagic starts every chunk value: "VIGILSN" and the format
	// version.
	chunkMagic = "VIGILSN\x01"
	// chunkSize is the most snapshot bytes in one record, well under the
	// 1 MiB a broker and bus.writer.batch_bytes accept by default.
	chunkSize = 512 << 10
	// pointerPrefix starts the commit metadata that points at a snapshot.
	pointerPrefix = "vigil-detector/1"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapID tells the chunks of one snapshot from those of another with the
// same keys.
type snapID [8]byte

func newSnapID() snapID {
	var id snapID
	_, _ = rand.Read(id[:]) // never fails (crypto/rand)
	return id
}

func (id snapID) String() string { return hex.EncodeToString(id[:]) }

// chunk is one decoded record of the state topic.
type chunk struct {
	id           snapID
	index, count int
	next         int64  // offset after the last event the snapshot covers
	size         int    // bytes of the whole snapshot
	crc          uint32 // CRC-32C of the whole snapshot
	at           int64  // Unix ms when it was written
	data         []byte
}

// appendChunk appends the encoding of c to b.
func appendChunk(b []byte, c *chunk) []byte {
	b = append(b, chunkMagic...)
	b = append(b, c.id[:]...)
	b = binary.AppendUvarint(b, uint64(c.index))
	b = binary.AppendUvarint(b, uint64(c.count))
	b = binary.AppendVarint(b, c.next)
	b = binary.AppendUvarint(b, uint64(c.size))
	b = binary.BigEndian.AppendUint32(b, c.crc)
	b = binary.AppendVarint(b, c.at)
	return append(b, c.data...)
}

var errNotChunk = errors.New("not a detector snapshot chunk")

// parseChunk decodes a record value; data aliases v.
func parseChunk(v []byte) (chunk, error) {
	var c chunk
	if len(v) < len(chunkMagic)+len(c.id) || string(v[:len(chunkMagic)]) != chunkMagic {
		return c, errNotChunk
	}
	v = v[len(chunkMagic):]
	copy(c.id[:], v)
	v = v[len(c.id):]
	var bad bool
	uv := func() uint64 {
		x, n := binary.Uvarint(v)
		if n <= 0 {
			bad = true
			return 0
		}
		v = v[n:]
		return x
	}
	sv := func() int64 {
		x, n := binary.Varint(v)
		if n <= 0 {
			bad = true
			return 0
		}
		v = v[n:]
		return x
	}
	index, count := uv(), uv()
	c.next = sv()
	size := uv()
	if bad || len(v) < 4 {
		return c, errNotChunk
	}
	c.crc = binary.BigEndian.Uint32(v)
	v = v[4:]
	c.at = sv()
	if bad || count == 0 || index >= count || count > 1<<20 || size > 1<<40 {
		return c, errNotChunk
	}
	c.index, c.count, c.size = int(index), int(count), int(size)
	c.data = v
	return c, nil
}

// pointer locates a snapshot on the state topic: the offset of its first
// chunk (the others follow it), its id and the offset after the last
// event it covers. It travels as the metadata of the committed offset.
type pointer struct {
	partition int
	offset    int64
	count     int
	id        snapID
	next      int64
}

func (p pointer) String() string {
	return fmt.Sprintf("%s %d %d %d %s %d", pointerPrefix, p.partition, p.offset, p.count, p.id, p.next)
}

// parsePointer reads commit metadata; ok is false when it holds no
// pointer (committed by something else, or reset by an operator).
func parsePointer(s string) (pointer, bool) {
	f := strings.Fields(s)
	if len(f) != 6 || f[0] != pointerPrefix {
		return pointer{}, false
	}
	var p pointer
	var err error
	var errs []error
	p.partition, err = strconv.Atoi(f[1])
	errs = append(errs, err)
	p.offset, err = strconv.ParseInt(f[2], 10, 64)
	errs = append(errs, err)
	p.count, err = strconv.Atoi(f[3])
	errs = append(errs, err)
	id, err := hex.DecodeString(f[4])
	errs = append(errs, err)
	p.next, err = strconv.ParseInt(f[5], 10, 64)
	errs = append(errs, err)
	if errors.Join(errs...) != nil || len(id) != len(p.id) || p.partition < 0 || p.offset < 0 || p.count <= 0 || p.next < 0 {
		return pointer{}, false
	}
	copy(p.id[:], id)
	return p, true
}

// snapshot is a snapshot read back from the state topic.
type snapshot struct {
	ptr  pointer
	data []byte
	at   time.Time
}

// assembly collects the chunks of one snapshot.
type assembly struct {
	first  chunk
	offset int64 // of chunk 0, -1 until seen
	parts  [][]byte
	have   int
}

func newAssembly(c chunk) *assembly {
	return &assembly{first: c, offset: -1, parts: make([][]byte, c.count)}
}

// add takes a chunk of the same snapshot found at offset.
func (a *assembly) add(c chunk, offset int64) {
	if c.count != a.first.count || c.size != a.first.size || c.crc != a.first.crc || c.next != a.first.next {
		return // same id, different snapshot: impossible unless corrupt
	}
	if a.parts[c.index] == nil {
		a.have++
	}
	a.parts[c.index] = bytes.Clone(c.data)
	if c.index == 0 {
		a.offset = offset
	}
}

func (a *assembly) complete() bool { return a.have == len(a.parts) }

// join returns the snapshot, checking its size and checksum.
func (a *assembly) join(partition int) (snapshot, error) {
	data := slices.Concat(a.parts...)
	if len(data) != a.first.size || crc32.Checksum(data, castagnoli) != a.first.crc {
		return snapshot{}, fmt.Errorf("snapshot %s: %d bytes, checksum mismatch or size %d expected", a.first.id, len(data), a.first.size)
	}
	return snapshot{
		ptr:  pointer{partition: partition, offset: a.offset, count: a.first.count, id: a.first.id, next: a.first.next},
		data: data,
		at:   time.UnixMilli(a.first.at),
	}, nil
}

// stateStore writes and reads snapshots on the state topic.
type stateStore struct {
	cfg    bus.Config
	topic  string
	w      *bus.Writer
	client *bus.Client

	mu    sync.Mutex
	acks  map[snapID]*writeAck // writes in flight, by snapshot id
	parts []int                // the topic's partitions, once known
}

// writeAck is what the writer's completion reports of a write in flight.
type writeAck struct {
	partition int
	offset    int64 // of chunk 0
}

func newStateStore(cfg bus.Config, topic string, client *bus.Client, opts ...bus.Option) (*stateStore, error) {
	w, err := bus.NewWriter(cfg, topic, opts...)
	if err != nil {
		return nil, err
	}
	s := &stateStore{cfg: cfg, topic: topic, w: w, client: client, acks: map[snapID]*writeAck{}}
	w.Balancer = prefixBalancer{}
	w.Completion = s.completed
	return s, nil
}

func (s *stateStore) close() error { return s.w.Close() }

// completed is the writer's Completion: it notes where chunk 0 of each
// snapshot in flight landed.
func (s *stateStore) completed(msgs []kafka.Message, err error) {
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range msgs {
		c, perr := parseChunk(msgs[i].Value)
		if perr != nil || c.index != 0 {
			continue
		}
		if a := s.acks[c.id]; a != nil {
			a.partition, a.offset = msgs[i].Partition, msgs[i].Offset
		}
	}
}

// chunkKey is the record key of chunk i of the snapshots of prefix.
func chunkKey(prefix string, i int) []byte {
	return strconv.AppendInt([]byte(prefix+"/"), int64(i), 10)
}

// prefixBalancer places every chunk of a partition's snapshots on one
// state partition: the murmur2 hash (the Java client's) of the key
// without its chunk number, over the partitions in id order.
type prefixBalancer struct{}

func (prefixBalancer) Balance(m kafka.Message, partitions ...int) int {
	key := m.Key
	if i := bytes.LastIndexByte(key, '/'); i >= 0 {
		key = key[:i]
	}
	return statePartition(string(key), partitions)
}

func statePartition(prefix string, partitions []int) int {
	ps := slices.Clone(partitions)
	slices.Sort(ps)
	return kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: []byte(prefix)}, ps...)
}

// write stores data, the snapshot of prefix's partition covering the
// events before next, and returns where it is. Stale chunks of a larger
// previous snapshot (prevCount of them) are deleted with tombstones.
func (s *stateStore) write(ctx context.Context, prefix string, next int64, data []byte, prevCount int, now time.Time) (pointer, error) {
	id := newSnapID()
	count := max(1, (len(data)+chunkSize-1)/chunkSize)
	base := chunk{id: id, count: count, next: next, size: len(data),
		crc: crc32.Checksum(data, castagnoli), at: now.UnixMilli()}
	msgs := make([]kafka.Message, 0, max(count, prevCount))
	for i := range count {
		c := base
		c.index = i
		c.data = data[i*chunkSize : min(len(data), (i+1)*chunkSize)]
		msgs = append(msgs, kafka.Message{Key: chunkKey(prefix, i), Value: appendChunk(nil, &c)})
	}
	for i := count; i < prevCount; i++ {
		msgs = append(msgs, kafka.Message{Key: chunkKey(prefix, i)}) // tombstone
	}
	ack := &writeAck{partition: -1, offset: -1}
	s.mu.Lock()
	s.acks[id] = ack
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.acks, id)
		s.mu.Unlock()
	}()
	if err := s.w.WriteMessages(ctx, msgs...); err != nil {
		return pointer{}, fmt.Errorf("write snapshot of %s (%d bytes): %w", prefix, len(data), err)
	}
	s.mu.Lock()
	p := pointer{partition: ack.partition, offset: ack.offset, count: count, id: id, next: next}
	s.mu.Unlock()
	if p.partition < 0 || p.offset < 0 {
		return pointer{}, fmt.Errorf("write snapshot of %s: the broker did not report its offset", prefix)
	}
	return p, nil
}

// read returns the snapshot ptr points at. ok is false when it is not
// there any more (compacted away after a newer one was written).
func (s *stateStore) read(ctx context.Context, prefix string, ptr pointer) (snap snapshot, ok bool, err error) {
	var a *assembly
	pre := []byte(prefix + "/")
	err = s.each(ctx, ptr.partition, ptr.offset, func(m *kafka.Message) bool {
		c, perr := parseChunk(m.Value)
		ours := perr == nil && c.id == ptr.id && bytes.HasPrefix(m.Key, pre)
		if a == nil {
			// Chunk 0 must be where the pointer says; if it is not, it
			// was compacted away because a newer snapshot exists.
			if !ours || c.index != 0 || m.Offset != ptr.offset {
				return false
			}
			a = newAssembly(c)
		} else if !ours {
			return true // another partition's chunks, written meanwhile
		}
		a.add(c, m.Offset)
		return !a.complete()
	})
	if err != nil || a == nil || !a.complete() {
		return snapshot{}, false, err
	}
	snap, err = a.join(ptr.partition)
	return snap, err == nil, err
}

// scan reads the whole state partition of prefix and returns the latest
// complete snapshot of prefix, if any.
func (s *stateStore) scan(ctx context.Context, prefix string) (snap snapshot, ok bool, err error) {
	parts, err := s.partitions(ctx)
	if err != nil {
		return snapshot{}, false, err
	}
	sp := statePartition(prefix, parts)
	pre := []byte(prefix + "/")
	var (
		latest *assembly                // latest complete one
		open   = map[snapID]*assembly{} // incomplete ones seen after it
	)
	err = s.each(ctx, sp, kafka.FirstOffset, func(m *kafka.Message) bool {
		if !bytes.HasPrefix(m.Key, pre) {
			return true
		}
		c, perr := parseChunk(m.Value)
		if perr != nil {
			return true // a tombstone, or garbage
		}
		a := open[c.id]
		if a == nil {
			a = newAssembly(c)
			open[c.id] = a
		}
		a.add(c, m.Offset)
		if a.complete() {
			latest = a
			// Anything begun before it is older: drop it.
			for id, o := range open {
				if o.first.at <= a.first.at {
					delete(open, id)
				}
			}
		}
		return true
	})
	if err != nil || latest == nil {
		return snapshot{}, false, err
	}
	snap, err = latest.join(sp)
	return snap, err == nil, err
}

// partitions returns the state topic's partitions (looked up once).
func (s *stateStore) partitions(ctx context.Context) ([]int, error) {
	s.mu.Lock()
	ps := s.parts
	s.mu.Unlock()
	if ps != nil {
		return ps, nil
	}
	ps, err := bus.Partitions(ctx, s.cfg, s.topic)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.parts = ps
	s.mu.Unlock()
	return ps, nil
}

// each calls fn with the records of one state partition from offset
// (absolute, or kafka.FirstOffset) to its end as of the call, until fn
// returns false.
func (s *stateStore) each(ctx context.Context, partition int, offset int64, fn func(*kafka.Message) bool) error {
	resp, err := s.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		s.topic: {kafka.FirstOffsetOf(partition), kafka.LastOffsetOf(partition)}}})
	if err != nil {
		return fmt.Errorf("list offsets of %s[%d]: %w", s.topic, partition, err)
	}
	var first, end int64 = -1, -1
	for _, po := range resp.Topics[s.topic] {
		if po.Partition != partition {
			continue
		}
		if po.Error != nil {
			return fmt.Errorf("list offsets of %s[%d]: %w", s.topic, partition, po.Error)
		}
		if po.FirstOffset >= 0 {
			first = po.FirstOffset
		}
		if po.LastOffset >= 0 {
			end = po.LastOffset
		}
	}
	if end < 0 {
		return fmt.Errorf("list offsets of %s[%d]: no answer for the partition", s.topic, partition)
	}
	if offset == kafka.FirstOffset {
		offset = max(first, 0)
	}
	if offset >= end {
		return nil
	}
	r, err := bus.NewPartitionReader(s.cfg, s.topic, partition, offset)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read %s[%d] at %d: %w", s.topic, partition, offset, err)
		}
		offset = m.Offset + 1
		if !fn(&m) || offset >= end {
			return nil
		}
	}
}
