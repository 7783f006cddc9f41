package simulate

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/vigil-audit/vigil/internal/event"
)

// Discard is a Sink that drops everything, for benchmarks.
var Discard Sink = discard{}

type discard struct{}

func (discard) Access(context.Context, *event.AccessEvent) error { return nil }
func (discard) Device(context.Context, *event.DeviceEvent) error { return nil }
func (discard) Label(context.Context, *Label) error              { return nil }
func (discard) Flush(context.Context) error                      { return nil }

// Tee returns a Sink that hands everything to each of sinks in order,
// stopping at the first error.
func Tee(sinks ...Sink) Sink { return tee(slices.Clone(sinks)) }

type tee []Sink

func (t tee) Access(ctx context.Context, e *event.AccessEvent) error {
	for _, s := range t {
		if err := s.Access(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Device(ctx context.Context, e *event.DeviceEvent) error {
	for _, s := range t {
		if err := s.Device(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Label(ctx context.Context, l *Label) error {
	for _, s := range t {
		if err := s.Label(ctx, l); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Flush(ctx context.Context) error {
	var errs []error
	for _, s := range t {
		errs = append(errs, s.Flush(ctx))
	}
	return errors.Join(errs...)
}

// WriterSink writes events as NDJSON, exactly as a sender posts them to
// the collector (event_id set; no received_at or source), and labels as
// JSON lines. Any writer may be nil to drop that stream. It buffers;
// Flush writes the buffers through.
type WriterSink struct {
	access, device, labels *bufio.Writer
	buf                    []byte
}

// NewWriterSink returns a WriterSink writing access events, device events
// and labels to the given writers (nil: dropped).
func NewWriterSink(access, device, labels io.Writer) *WriterSink {
	bw := func(w io.Writer) *bufio.Writer {
		if w == nil {
			return nil
		}
		return bufio.NewWriterSize(w, 256<<10)
	}
	return &WriterSink{access: bw(access), device: bw(device), labels: bw(labels), buf: make([]byte, 0, 4096)}
}

// Access writes e as one line.
func (s *WriterSink) Access(_ context.Context, e *event.AccessEvent) error {
	if s.access == nil {
		return nil
	}
	s.buf = append(e.AppendJSON(s.buf[:0]), '\n')
	_, err := s.access.Write(s.buf)
	return err
}

// Device writes e as one line.
func (s *WriterSink) Device(_ context.Context, e *event.DeviceEvent) error {
	if s.device == nil {
		return nil
	}
	s.buf = append(e.AppendJSON(s.buf[:0]), '\n')
	_, err := s.device.Write(s.buf)
	return err
}

// Label writes l as one line.
func (s *WriterSink) Label(_ context.Context, l *Label) error {
	if s.labels == nil {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return fmt.Errorf("encode label %s: %w", l.ID, err)
	}
	_, err = s.labels.Write(append(b, '\n'))
	return err
}

// Flush writes the buffers through to the writers.
func (s *WriterSink) Flush(context.Context) error {
	var errs []error
	for _, w := range []*bufio.Writer{s.access, s.device, s.labels} {
		if w != nil {
			errs = append(errs, w.Flush())
		}
	}
	return errors.Join(errs...)
}

// File names of a DirSink.
const (
	AccessFile = "access.ndjson"
	DeviceFile = "device.ndjson"
	LabelsFile = "labels.jsonl"
)

// DirSink writes a run to a folder: AccessFile, DeviceFile and LabelsFile.
// The access and device files can be posted to the collector as they are
// (curl --data-binary @access.ndjson) or followed by its file receiver.
type DirSink struct {
	*WriterSink
	files []*os.File
}

// NewDirSink creates dir if needed and the three files in it. It refuses
// to overwrite a file that exists.
func NewDirSink(dir string) (*DirSink, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	d := &DirSink{}
	for _, name := range []string{AccessFile, DeviceFile, LabelsFile} {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			for _, g := range d.files {
				g.Close()
				os.Remove(g.Name())
			}
			if errors.Is(err, os.ErrExist) {
				return nil, fmt.Errorf("%s exists; remove it or choose another output folder", filepath.Join(dir, name))
			}
			return nil, fmt.Errorf("output: %w", err)
		}
		d.files = append(d.files, f)
	}
	d.WriterSink = NewWriterSink(d.files[0], d.files[1], d.files[2])
	return d, nil
}

// Close flushes, syncs and closes the files. It is safe to call twice.
func (d *DirSink) Close() error {
	if d.files == nil {
		return nil
	}
	errs := []error{d.WriterSink.Flush(context.Background())}
	for _, f := range d.files {
		errs = append(errs, f.Sync(), f.Close())
	}
	d.files = nil
	return errors.Join(errs...)
}

// CopyAccess returns a deep copy of e that shares nothing with it.
func CopyAccess(e *event.AccessEvent) event.AccessEvent {
	c := *e
	c.Categories = slices.Clone(e.Categories)
	c.Attrs = maps.Clone(e.Attrs)
	if g := e.Client.Geo; g.Lat != nil {
		v := *g.Lat
		c.Client.Geo.Lat = &v
	}
	if g := e.Client.Geo; g.Lon != nil {
		v := *g.Lon
		c.Client.Geo.Lon = &v
	}
	return c
}

// CopyDevice returns a deep copy of e that shares nothing with it.
func CopyDevice(e *event.DeviceEvent) event.DeviceEvent {
	c := *e
	c.Attrs = maps.Clone(e.Attrs)
	if e.Location != nil {
		l := *e.Location
		c.Location = &l
	}
	return c
}
