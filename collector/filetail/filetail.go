package filetail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxBatchesPerPoll is how many batches one file (unless rotated) may
// deliver before the other files get their turn; the next poll then starts
// at once.
const maxBatchesPerPoll = 16

// maxBackoff caps the wait between two attempts at delivering a batch or
// writing the positions file (unless poll_interval is longer).
const maxBackoff = 5 * time.Second

// Line is one line of a followed file.
type Line struct {
	// Data is the line without its line ending (LF or CRLF). For a TooLong
	// line it is the first max_line_bytes bytes. The handler may keep it.
	Data []byte
	// Offset is the byte offset of the line's first byte in the file.
	Offset int64
	// TooLong says the line was longer than max_line_bytes: Data holds its
	// start and the rest was skipped. The collector dead-letters it.
	TooLong bool
}

// Batch is a run of consecutive lines of one file, in file order. Empty
// lines are not in it. It holds at most 1000 lines and, unless a single line
// is longer, at most 1 MiB of line data.
type Batch struct {
	// Path is where the file was last found. After a rotation it may be the
	// name the file had before it was renamed.
	Path  string
	Lines []Line
}

// Handler receives the lines read from followed files.
type Handler interface {
	// HandleLines returns nil only once every line of batch is durable
	// downstream (the collector has appended it to its disk spool); only
	// then does the tailer move past the lines and persist its position. On
	// an error the same batch is offered again after a backoff, until it
	// succeeds or ctx is cancelled: lines are never skipped. ctx is
	// cancelled when the tailer stops; a batch the handler then fails is
	// offered again by the next Run. HandleLines is never called
	// concurrently by one Tailer.
	HandleLines(ctx context.Context, batch Batch) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, batch Batch) error

// HandleLines calls f.
func (f HandlerFunc) HandleLines(ctx context.Context, batch Batch) error { return f(ctx, batch) }

// Clock tells the time and waits. Tests pass their own to New with
// WithClock; the default is the system clock.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Option changes how New builds a Tailer.
type Option func(*options)

type options struct {
	logger *slog.Logger
	reg    prometheus.Registerer
	clock  Clock
}

// WithLogger sends the tailer's logs to l: files followed, rotated,
// truncated and forgotten at info, handler and I/O failures at warn and
// error. Nil means discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the tailer's metrics with r. Nil means they are
// not registered.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.reg = r } }

// WithClock makes the tailer read the time and wait (poll interval,
// backoff, rotate_wait) with c. Nil means the system clock.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// Tailer follows the files matching a Config's globs and hands their lines
// to a Handler. Build it with New, run it with Run, stop it by cancelling
// Run's context or with Close.
type Tailer struct {
	cfg   Config
	h     Handler
	log   *slog.Logger
	clock Clock
	m     *metrics

	mu       sync.Mutex
	started  bool
	closed   bool
	cancel   context.CancelFunc
	done     chan struct{}
	snapshot []Position // as last loaded or written

	// Run's state, used by Run's goroutine only.
	files      map[fileID]*file
	known      map[fileID]Position // saved positions of files not open yet
	fresh      bool                // the positions file did not exist at start
	seq        uint64
	buf        []byte
	dirty      bool // positions changed since they were last written
	lagContrib float64
	openErrs   map[string]string // path → last open error logged for it
}

// file is a followed, open file.
type file struct {
	id       fileID
	path     string // where it was last found
	f        *os.File
	seq      uint64 // order of opening
	acked    int64  // offset after the last acknowledged line
	fp       fingerprint
	tail     *tailLine
	size     int64     // size at the last poll
	mtime    time.Time // modification time at the last poll
	activeAt time.Time // when it last grew, or was found rotated
	rotated  bool      // it left its first path (renamed, replaced there, or deleted)
	gone     bool      // it no longer matches the globs
	seen     bool      // matched during the current poll
}

// New checks cfg, reads the positions file (to fail early if it is corrupt)
// and returns a Tailer that hands lines to h. It opens no file and starts
// nothing: Run does.
func New(cfg Config, h Handler, opts ...Option) (*Tailer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, errors.New("filetail: nil handler")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.clock == nil {
		o.clock = systemClock{}
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ps, _, err := loadPositions(cfg.PositionsFile)
	if err != nil {
		return nil, err
	}
	return &Tailer{
		cfg:      cfg,
		h:        h,
		log:      o.logger.With("kind", cfg.Kind),
		clock:    o.clock,
		m:        m,
		done:     make(chan struct{}),
		snapshot: ps,
	}, nil
}

// Positions returns the positions as last written to (or, before the first
// write, read from) the positions file, sorted by path.
func (t *Tailer) Positions() []Position {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := slices.Clone(t.snapshot)
	sortPositions(ps)
	return ps
}

// Close stops a running Run and waits for it to return (its positions then
// persisted). It is safe without Run, safe to call twice, and makes a later
// Run return at once.
func (t *Tailer) Close() error {
	t.mu.Lock()
	t.closed = true
	cancel, started := t.cancel, t.started
	t.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if started {
		<-t.done
	}
	return nil
}

// Run follows the files until ctx is cancelled or Close is called, then
// closes them and returns after persisting every position acknowledged so
// far. It returns nil when stopped that way; an error if the positions file
// cannot be locked, read or finally written. Run may be called once.
func (t *Tailer) Run(ctx context.Context) (err error) {
	t.mu.Lock()
	if t.started {
		t.mu.Unlock()
		return errors.New("filetail: Run called more than once")
	}
	t.started = true
	defer close(t.done)
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t.cancel = cancel
	t.mu.Unlock()

	unlock, err := t.lockPositions()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, unlock()) }()
	// Read the positions again now that the lock is held: a tailer that used
	// the file before may have written it since New.
	ps, exists, err := loadPositions(t.cfg.PositionsFile)
	if err != nil {
		return err
	}
	t.files = make(map[fileID]*file)
	t.known = make(map[fileID]Position, len(ps))
	for _, p := range ps {
		t.known[p.id()] = p
	}
	t.fresh = !exists
	t.buf = make([]byte, readChunk)
	t.openErrs = make(map[string]string)
	t.setSnapshot(ps)

	t.log.Info("file tailer started", "paths", t.cfg.Paths, "positions_file", t.cfg.PositionsFile, "saved_positions", len(ps))
	t.loop(ctx)
	err = t.shutdown()
	t.log.Info("file tailer stopped")
	return err
}

// lockPositions takes the lock file next to the positions file, creating
// its directory if needed, and returns its release.
func (t *Tailer) lockPositions() (func() error, error) {
	path := t.cfg.PositionsFile
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("filetail: positions file %s: create directory: %w", path, err)
	}
	lf, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filetail: positions file %s: open lock: %w", path, err)
	}
	if err := lockFile(lf); err != nil {
		_ = lf.Close()
		return nil, fmt.Errorf("filetail: positions file %s: %w", path, err)
	}
	return func() error {
		err := unlockFile(lf)
		if cerr := lf.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("filetail: positions file %s: release lock: %w", path, err)
		}
		return nil
	}, nil
}

func (t *Tailer) loop(ctx context.Context) {
	first := true
	for {
		busy := t.poll(ctx, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.clock.After(t.cfg.PollInterval):
		}
	}
}

// shutdown closes every file and writes the positions if they changed.
func (t *Tailer) shutdown() error {
	var err error
	if t.dirty {
		ps := t.currentPositions()
		t.setSnapshot(ps)
		if err = savePositions(t.cfg.PositionsFile, ps); err == nil {
			t.dirty = false
		} else {
			t.log.Error("cannot write positions file", "positions_file", t.cfg.PositionsFile, "err", err)
		}
	}
	for id, w := range t.files {
		_ = w.f.Close()
		delete(t.files, id)
		t.m.watched.Dec()
	}
	t.m.lag.Sub(t.lagContrib)
	t.lagContrib = 0
	return err
}

// poll expands the globs, notices new, moved, rotated, truncated and deleted
// files, and delivers what was appended. It reports whether some file has
// more to read right away.
func (t *Tailer) poll(ctx context.Context, first bool) (busy bool) {
	now := t.clock.Now()
	for _, w := range t.files {
		w.seen = false
	}
	knownMatched := make(map[fileID]bool)
	for _, path := range t.expand() {
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue // gone since the glob, or not a file
		}
		id, _, err := statIdentity(fi)
		if err != nil {
			t.openFailed(path, err)
			continue
		}
		if w := t.files[id]; w != nil {
			if !w.seen {
				t.found(w, path, now)
			}
			continue
		}
		if _, ok := t.known[id]; ok {
			knownMatched[id] = true
		}
		t.open(path, first, now)
	}
	for _, w := range t.files {
		if !w.seen {
			t.checkGone(w, now)
		}
	}
	t.resolveKnown(knownMatched, now)

	order := make([]*file, 0, len(t.files))
	for _, w := range t.files {
		order = append(order, w)
	}
	slices.SortFunc(order, olderFirst)
	for _, w := range order {
		more, err := t.follow(ctx, w, now)
		if err != nil {
			return false // ctx cancelled
		}
		busy = busy || more
	}
	if t.dirty {
		_ = t.persist(ctx) // fails only when ctx is cancelled; shutdown retries
	}
	t.updateLag()
	return busy
}

// olderFirst orders files for reading so that older lines tend to come
// first: the least recently modified file first, then (on equal times)
// rotated files before others, then in the order they were opened. The
// order of lines across files is best effort; within a file it is strict.
func olderFirst(a, b *file) int {
	if c := a.mtime.Compare(b.mtime); c != 0 {
		return c
	}
	if a.rotated != b.rotated {
		if a.rotated {
			return -1
		}
		return 1
	}
	return cmpU64(a.seq, b.seq)
}

// expand returns the paths matching the globs, sorted, without excluded
// ones and without the tailer's own positions, temporary and lock files
// (were they matched, each positions write would look like a new file).
func (t *Tailer) expand() []string {
	var out []string
	for _, pattern := range t.cfg.Paths {
		matches, _ := filepath.Glob(pattern) // the only error is a bad pattern, ruled out by Validate
		for _, m := range matches {
			if !t.cfg.excluded(m) && !t.ownFile(m) {
				out = append(out, m)
			}
		}
	}
	slices.Sort(out)
	out = slices.Compact(out)
	for path := range t.openErrs {
		if _, found := slices.BinarySearch(out, path); !found {
			delete(t.openErrs, path) // forget errors of paths gone
		}
	}
	return out
}

func (t *Tailer) ownFile(path string) bool {
	dir, base := filepath.Split(t.cfg.PositionsFile)
	pdir, pbase := filepath.Split(path)
	if filepath.Clean(dir) != filepath.Clean(pdir) {
		return false
	}
	return pbase == base || pbase == base+".lock" || strings.HasPrefix(pbase, "."+base+".tmp-")
}

// found records that w was matched at path during this poll.
func (t *Tailer) found(w *file, path string, now time.Time) {
	w.seen = true
	w.gone = false
	if w.path != path {
		t.log.Info("followed file renamed", "old_path", w.path, "path", path)
		t.m.rotations.Inc()
		w.path, w.rotated, w.activeAt = path, true, now
		t.dirty = true
	}
}

// open starts following the file at path, from its saved position if it has
// one.
func (t *Tailer) open(path string, first bool, now time.Time) {
	f, err := openFile(path)
	if err != nil {
		t.openFailed(path, err)
		return
	}
	fi, err := f.Stat()
	var id fileID
	if err == nil {
		id, _, err = statIdentity(fi)
	}
	if err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		if err != nil {
			t.openFailed(path, err)
		}
		return
	}
	if w := t.files[id]; w != nil { // replaced at path between stat and open
		_ = f.Close()
		if !w.seen {
			t.found(w, path, now)
		}
		return
	}
	delete(t.openErrs, path)
	w := newFile(id, path, f, fi, now)
	w.seen = true
	if p, ok := t.known[id]; ok {
		delete(t.known, id)
		w.acked = t.resume(w, p)
		if p.Path != path {
			t.log.Info("followed file renamed", "old_path", p.Path, "path", path)
			t.m.rotations.Inc()
			w.rotated = true
		}
	} else if first && t.fresh && t.cfg.StartAt == StartEnd {
		w.acked, err = lastLineEnd(f, w.size, t.cfg.MaxLineBytes)
		if err != nil {
			_ = f.Close()
			t.openFailed(path, err)
			return
		}
	}
	t.refreshFingerprint(w)
	t.add(w)
	t.log.Info("following file", "path", path, "offset", w.acked, "size", w.size)
}

func newFile(id fileID, path string, f *os.File, fi os.FileInfo, now time.Time) *file {
	return &file{id: id, path: path, f: f, fp: newFingerprint(nil), size: fi.Size(), mtime: fi.ModTime(), activeAt: now}
}

// resume returns where to continue reading w, saved at p: p's offset if w
// is still the file p was saved for, otherwise 0.
func (t *Tailer) resume(w *file, p Position) int64 {
	want := p.fingerprint()
	got, ok, err := readFingerprint(w.f, want.n)
	switch {
	case err != nil:
		t.log.Warn("cannot check file against its saved position; reading it from the start", "path", w.path, "err", fmt.Errorf("read %s: %w", w.path, err))
	case !ok || got != want || w.size < p.Offset:
		t.log.Warn("file changed since its position was saved; reading it from the start",
			"path", w.path, "saved_offset", p.Offset, "size", w.size)
		if w.size < p.Offset {
			t.m.truncations.Inc()
		}
	default:
		return p.Offset
	}
	t.dirty = true
	return 0
}

func (t *Tailer) add(w *file) {
	t.seq++
	w.seq = t.seq
	t.files[w.id] = w
	t.m.watched.Inc()
	t.dirty = true
}

func (t *Tailer) remove(w *file) {
	_ = w.f.Close()
	delete(t.files, w.id)
	t.m.watched.Dec()
	t.dirty = true
}

// openFailed logs an error opening path, once per distinct error.
func (t *Tailer) openFailed(path string, err error) {
	if t.openErrs[path] == err.Error() {
		return
	}
	t.openErrs[path] = err.Error()
	t.log.Warn("cannot follow file", "path", path, "err", err)
}

// checkGone decides whether w, not matched in this poll, has left: deleted,
// or renamed away or replaced at its path. A file that merely cannot be
// checked is kept as it is.
func (t *Tailer) checkGone(w *file, now time.Time) {
	if w.gone {
		return
	}
	fi, err := w.f.Stat()
	if err != nil {
		return
	}
	if _, nlink, err := statIdentity(fi); err == nil && nlink == 0 {
		t.log.Info("followed file deleted; finishing it", "path", w.path)
		w.gone, w.rotated, w.activeAt = true, true, now
		return
	}
	st, err := os.Stat(w.path)
	if err == nil {
		if id, _, err := statIdentity(st); err != nil || id == w.id {
			return // still there: nothing has moved
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return
	}
	t.log.Info("followed file rotated away; finishing it", "path", w.path)
	t.m.rotations.Inc()
	w.gone, w.rotated, w.activeAt = true, true, now
}

// resolveKnown deals with saved positions whose file was not matched by the
// globs: a file renamed by a rotation while the tailer was down is looked for
// in its directory and finished; a file that is nowhere is forgotten.
func (t *Tailer) resolveKnown(matched map[fileID]bool, now time.Time) {
	dirs := make(map[string][]os.DirEntry)
	for id, p := range t.known {
		if matched[id] {
			continue // there, but could not be opened: try again next poll
		}
		dir := filepath.Dir(p.Path)
		entries, ok := dirs[dir]
		if !ok {
			var err error
			entries, err = os.ReadDir(dir)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.log.Warn("cannot look for a followed file", "dir", dir, "err", err)
				continue
			}
			dirs[dir] = entries
		}
		path := ""
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			if eid, _, err := statIdentity(fi); err == nil && eid == id {
				path = filepath.Join(dir, e.Name())
				break
			}
		}
		if path == "" || !t.finishRenamed(path, p, now) {
			t.log.Info("forgetting position of vanished file", "path", p.Path, "offset", p.Offset)
			delete(t.known, id)
			t.dirty = true
		}
	}
}

// finishRenamed opens the file saved at p and found at path, if it is still
// the same file, to read it to its end and forget it.
func (t *Tailer) finishRenamed(path string, p Position, now time.Time) bool {
	f, err := openFile(path)
	if err != nil {
		t.openFailed(path, err)
		return false
	}
	fi, err := f.Stat()
	var id fileID
	if err == nil {
		id, _, err = statIdentity(fi)
	}
	if err != nil || id != p.id() {
		_ = f.Close()
		return false
	}
	w := newFile(id, path, f, fi, now)
	w.rotated, w.gone = true, true
	want := p.fingerprint()
	if got, ok, err := readFingerprint(f, want.n); err != nil || !ok || got != want || w.size < p.Offset {
		_ = f.Close()
		return false
	}
	delete(t.known, id)
	w.acked = p.Offset
	t.refreshFingerprint(w)
	t.add(w)
	t.m.rotations.Inc()
	t.log.Info("found file rotated while stopped; finishing it", "old_path", p.Path, "path", path, "offset", w.acked, "size", w.size)
	return true
}

// follow checks w for truncation and delivers its new lines. It reports
// whether w has more to read right away; its error is ctx's.
func (t *Tailer) follow(ctx context.Context, w *file, now time.Time) (more bool, err error) {
	fi, err := w.f.Stat()
	if err != nil {
		t.log.Error("cannot stat followed file", "path", w.path, "err", err)
		return false, nil
	}
	size := fi.Size()
	if size != w.size {
		w.activeAt = now
	}
	switch {
	case size < w.acked:
		t.truncated(w, size)
	case size != w.size || !fi.ModTime().Equal(w.mtime):
		// Changed: check the start is what it was (copytruncate then
		// rewritten past our offset between two polls).
		if got, ok, err := readFingerprint(w.f, w.fp.n); err == nil && (!ok || got != w.fp) {
			t.truncated(w, size)
		}
	}
	if w.tail != nil && size < w.tail.end {
		w.tail = nil // shrunk under the unterminated line: scan it again
	}
	w.size, w.mtime = size, fi.ModTime()
	if w.fp.n < fingerprintBytes && size > int64(w.fp.n) {
		t.refreshFingerprint(w)
	}

	final := w.rotated && now.Sub(w.activeAt) >= t.cfg.RotateWait
	for i := 0; w.rotated || i < maxBatchesPerPoll; i++ { // a rotated file is read to its end at once: its lines are older
		if err := ctx.Err(); err != nil {
			return false, err
		}
		res, err := readBatch(w.f, w.acked, w.tail, t.cfg.MaxLineBytes, final, t.buf)
		if err != nil {
			t.log.Error("cannot read followed file", "path", w.path, "offset", w.acked, "err", err)
			return false, nil
		}
		if len(res.lines) > 0 {
			if err := t.deliver(ctx, Batch{Path: w.path, Lines: res.lines}); err != nil {
				return false, err
			}
		}
		if res.end != w.acked {
			t.m.lines.Add(float64(len(res.lines)))
			t.m.bytes.Add(float64(res.end - w.acked))
			w.acked = res.end
			if w.fp.n < fingerprintBytes && w.acked > int64(w.fp.n) {
				t.refreshFingerprint(w)
			}
			t.dirty = true
		}
		w.tail = res.tail
		if t.dirty {
			if err := t.persist(ctx); err != nil {
				return false, err
			}
		}
		if res.eof {
			if w.gone && final && w.tail == nil {
				t.finishGone(w, now)
			}
			return false, nil
		}
	}
	return true, nil
}

// finishGone forgets w, gone and read to its end, unless it grew meanwhile.
func (t *Tailer) finishGone(w *file, now time.Time) {
	fi, err := w.f.Stat()
	if err != nil {
		return
	}
	if fi.Size() > w.acked {
		w.activeAt = now
		return
	}
	t.log.Info("finished rotated or deleted file; forgetting it", "path", w.path, "offset", w.acked)
	t.remove(w)
}

func (t *Tailer) truncated(w *file, size int64) {
	t.log.Warn("followed file truncated or rewritten; reading it again from the start",
		"path", w.path, "offset", w.acked, "size", size)
	t.m.truncations.Inc()
	w.acked, w.tail, w.fp = 0, nil, newFingerprint(nil)
	w.size = size
	t.refreshFingerprint(w)
	t.dirty = true
}

// refreshFingerprint hashes the first (up to) fingerprintBytes bytes of w.
func (t *Tailer) refreshFingerprint(w *file) {
	buf := make([]byte, min(w.size, fingerprintBytes))
	got, err := w.f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		t.log.Warn("cannot read start of followed file", "path", w.path, "err", err)
		return
	}
	if got >= w.fp.n {
		w.fp = newFingerprint(buf[:got])
	}
}

// deliver hands batch to the handler until it succeeds or ctx is done.
func (t *Tailer) deliver(ctx context.Context, batch Batch) error {
	for attempt := 1; ; attempt++ {
		err := t.h.HandleLines(ctx, batch)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t.m.handlerFailures.Inc()
		wait := t.backoff(attempt)
		t.log.Warn("handler failed; retrying batch", "path", batch.Path, "offset", batch.Lines[0].Offset,
			"lines", len(batch.Lines), "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.clock.After(wait):
		}
	}
}

// persist writes the positions file until it succeeds or ctx is done. No
// more lines are read meanwhile, so a crash repeats at most one batch per
// file.
func (t *Tailer) persist(ctx context.Context) error {
	ps := t.currentPositions()
	t.setSnapshot(ps)
	for attempt := 1; ; attempt++ {
		err := savePositions(t.cfg.PositionsFile, ps)
		if err == nil {
			t.dirty = false
			return nil
		}
		wait := t.backoff(attempt)
		t.log.Error("cannot write positions file; retrying", "attempt", attempt, "wait", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.clock.After(wait):
		}
	}
}

// backoff is poll_interval doubled at each attempt, up to 5s.
func (t *Tailer) backoff(attempt int) time.Duration {
	d := t.cfg.PollInterval
	limit := max(maxBackoff, t.cfg.PollInterval)
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func (t *Tailer) currentPositions() []Position {
	ps := make([]Position, 0, len(t.files)+len(t.known))
	for _, w := range t.files {
		ps = append(ps, Position{
			Path: w.path, Dev: w.id.Dev, Inode: w.id.Ino,
			Fingerprint: w.fp.String(), FingerprintBytes: w.fp.n, Offset: w.acked,
		})
	}
	for _, p := range t.known {
		ps = append(ps, p)
	}
	sortPositions(ps)
	return ps
}

func (t *Tailer) setSnapshot(ps []Position) {
	t.mu.Lock()
	t.snapshot = ps
	t.mu.Unlock()
}

// updateLag sets this tailer's share of the lag gauge.
func (t *Tailer) updateLag() {
	var lag int64
	for _, w := range t.files {
		if fi, err := w.f.Stat(); err == nil && fi.Size() > w.acked {
			lag += fi.Size() - w.acked
		}
	}
	t.m.lag.Add(float64(lag) - t.lagContrib)
	t.lagContrib = float64(lag)
}
