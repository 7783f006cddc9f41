package collector

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/event"
)

// TestIngestOutputIsBusValid holds the invariant the ingester relies on
// instead of validating twice: every event it accepts, once normalised and
// pseudonymised, passes the bus-level validation; every dead letter is
// well-formed.
func TestIngestOutputIsBusValid(t *testing.T) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	ps, err := pseudo.New(key, pseudo.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }
	for _, kind := range []Kind{KindAccess, KindDevice} {
		files, err := filepath.Glob(filepath.Join("..", "internal", "event", "testdata", string(kind), "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no %s testdata: %v", kind, err)
		}
		var inputs []Input
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, Input{Data: b, Location: filepath.Base(f)})
		}
		inputs = append(inputs, Input{Data: []byte(`{"broken":`)})
		sp := &memSpool{}
		longest := strings.Repeat("s", event.MaxStringLen)
		in := NewIngester(sp, ps, nil, IngesterOptions{Now: now})
		res, err := in.Ingest(context.Background(), Origin{Source: longest, Receiver: ReceiverFile}, kind, inputs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res[:len(res)-1] {
			if !r.Accepted {
				t.Errorf("%s %s rejected: %v", kind, inputs[i].Location, r.Problems)
			}
		}
		for _, rec := range sp.records(t) {
			switch rec.topic {
			case topicAccess:
				var e event.AccessEvent
				if err := json.Unmarshal([]byte(rec.value), &e); err != nil {
					t.Fatal(err)
				}
				if p := event.ValidateAccess(e); len(p) > 0 {
					t.Errorf("access event not bus-valid: %v\n%s", p, rec.value)
				}
			case topicDevice:
				var e event.DeviceEvent
				if err := json.Unmarshal([]byte(rec.value), &e); err != nil {
					t.Fatal(err)
				}
				if p := event.ValidateDevice(e); len(p) > 0 {
					t.Errorf("device event not bus-valid: %v\n%s", p, rec.value)
				}
			case topicDeadLetter:
				var dl event.DeadLetter
				if err := json.Unmarshal([]byte(rec.value), &dl); err != nil || dl.Reason != event.ReasonInvalidEvent || len(dl.Problems) == 0 {
					t.Errorf("dead letter: %s (%v)", rec.value, err)
				}
			}
		}
	}
}
