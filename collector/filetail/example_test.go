package filetail_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-audit/vigil/collector/filetail"
)

// Follow the NDJSON files of a directory. The handler stands in for the
// collector, which appends each batch to its disk spool before returning
// nil; only then does the tailer move on and persist its position.
func Example() {
	dir, err := os.MkdirTemp("", "filetail-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	logFile := filepath.Join(dir, "access-2026-11-05.ndjson")
	err = os.WriteFile(logFile, []byte("{\"event_id\":\"e1\",\"action\":\"read\"}\r\n\n{\"event_id\":\"e2\",\"action\":\"export\"}\n{\"event_id\":\"e3\""), 0o600)
	if err != nil {
		log.Fatal(err)
	}

	cfg := filetail.Config{
		Paths:         []string{filepath.Join(dir, "access-*.ndjson")},
		Kind:          filetail.KindAccess,
		PositionsFile: filepath.Join(dir, "state", "file-access.positions.json"),
		PollInterval:  10 * time.Millisecond,
		Exclude:       []string{"*.gz"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	seen := 0
	h := filetail.HandlerFunc(func(_ context.Context, b filetail.Batch) error {
		for _, l := range b.Lines {
			fmt.Printf("%s @%d: %s\n", filepath.Base(b.Path), l.Offset, l.Data)
			seen++
		}
		if seen == 2 {
			cancel() // the third line has no newline yet: it waits
		}
		return nil
	})
	tl, err := filetail.New(cfg, h)
	if err != nil {
		log.Fatal(err)
	}
	if err := tl.Run(ctx); err != nil {
		log.Fatal(err)
	}
	for _, p := range tl.Positions() {
		fmt.Printf("%s: resume at %d\n", filepath.Base(p.Path), p.Offset)
	}
	// Output:
	// access-2026-11-05.ndjson @0: {"event_id":"e1","action":"read"}
	// access-2026-11-05.ndjson @36: {"event_id":"e2","action":"export"}
	// access-2026-11-05.ndjson: resume at 72
}
