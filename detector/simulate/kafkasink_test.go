package simulate

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-audit/vigil/collector/pseudo"
	"github.com/vigil-audit/vigil/internal/bus"
	"github.com/vigil-audit/vigil/internal/event"
)

// Straight to Kafka, events are what the collector would have produced:
// bus-valid, keyed like the collector's, with tokens in place of every
// identifier of a person or a device.
func TestKafkaSink(t *testing.T) {
	tests := []struct {
		name          string
		tokeniseActor bool
	}{
		{"actor ids raw (default)", false},
		{"actor ids tokenised", true},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broker, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Listen: "127.0.0.1:0", Partitions: 1, NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer broker.Close()
			pc := pseudo.Defaults()
			pc.TokeniseActor = tt.tokeniseActor
			p, err := pseudo.New(testKey, pc)
			if err != nil {
				t.Fatal(err)
			}
			ks, err := NewKafkaSink(KafkaConfig{Bus: broker.Config(), Pseudonymiser: p, BatchSize: 300})
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{Seed: 4, Rate: 0.3, Duration: 90 * time.Minute, Orgs: 2, FirstIncidentsAfter: time.Minute, Key: testKey})
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			if err := s.Run(ctx, Tee(ks, &rec)); err != nil {
				t.Fatal(err)
			}
			if err := ks.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if len(rec.labels) < 5 {
				t.Fatalf("%d incidents; want the demo burst in the stream", len(rec.labels))
			}
			if got, want := ks.Written(), int64(len(rec.acc)+len(rec.dev)); got != want {
				t.Fatalf("Kafka acknowledged %d records of %d events", got, want)
			}

			// Every raw identifier the collector must hide.
			raw := map[string]bool{}
			for _, e := range rec.acc {
				raw[e.Subject.ID], raw[e.Client.DeviceID] = true, true
				if tt.tokeniseActor {
					raw[e.Actor.ID] = true
				}
			}
			for _, e := range rec.dev {
				raw[e.AccountID], raw[e.DeviceID], raw[e.Network.WiFiBSSID] = true, true, true
			}
			delete(raw, "")
			byID := map[string]int{}
			for i, e := range rec.acc {
				byID[e.EventID] = i
			}
			devByID := map[string]int{}
			for i, e := range rec.dev {
				devByID[e.EventID] = i
			}

			msgs := readTopic(ctx, t, broker.Config(), bus.TopicAccess, len(rec.acc))
			seen := map[string]bool{}
			for _, m := range msgs {
				checkNoRaw(t, m, raw, !tt.tokeniseActor)
				e, probs := event.DecodeAccess(m.Value)
				if len(probs) > 0 {
					t.Fatalf("record %s: %s", m.Value, probs)
				}
				if p := event.ValidateAccess(e); len(p) > 0 || e.Source != "simulate" {
					t.Fatalf("record %s: source %q, bus problems %s", e.EventID, e.Source, p)
				}
				if string(m.Key) != string(e.Key()) {
					t.Fatalf("record %s: key %q, want %q", e.EventID, m.Key, e.Key())
				}
				i, ok := byID[e.EventID]
				if !ok || seen[e.EventID] {
					t.Fatalf("record %s: unknown or repeated (known %t)", e.EventID, ok)
				}
				seen[e.EventID] = true
				orig := rec.acc[i]
				if e.Subject.ID != p.Token(pseudo.Person, orig.Subject.ID) {
					t.Fatalf("record %s: subject %s is not the token of the raw subject", e.EventID, e.Subject.ID)
				}
				if lat := e.Client.Geo.Lat; lat != nil && strconv.FormatFloat(*lat, 'f', -1, 64) != strconv.FormatFloat(float64(int64(*lat*100+copysignHalf(*lat)))/100, 'f', -1, 64) {
					t.Fatalf("record %s: latitude %v is not coarsened to 2 decimals", e.EventID, *lat)
				}
			}
			dmsgs := readTopic(ctx, t, broker.Config(), bus.TopicDevice, len(rec.dev))
			for _, m := range dmsgs {
				checkNoRaw(t, m, raw, !tt.tokeniseActor)
				e, probs := event.DecodeDevice(m.Value)
				if len(probs) > 0 {
					t.Fatalf("record %s: %s", m.Value, probs)
				}
				if p := event.ValidateDevice(e); len(p) > 0 {
					t.Fatalf("record %s: bus problems %s", e.EventID, p)
				}
				i, ok := devByID[e.EventID]
				if !ok || seen[e.EventID] {
					t.Fatalf("record %s: unknown or repeated (known %t)", e.EventID, ok)
				}
				seen[e.EventID] = true
				if string(m.Key) != e.DeviceID || e.DeviceID != p.Token(pseudo.Device, rec.dev[i].DeviceID) {
					t.Fatalf("record %s: key %q, device %s", e.EventID, m.Key, e.DeviceID)
				}
			}
		})
	}
}

func copysignHalf(x float64) float64 {
	if x < 0 {
		return -0.5
	}
	return 0.5
}

// checkNoRaw fails when any string in the record's key or JSON value is a
// raw identifier — except actor.id (and the key, org/actor.id), which the
// collector keeps raw unless tokenise_actor is set: a doctor's staff number
// is an actor id there, and a subject id when an admin reads the doctor's
// account.
func checkNoRaw(t *testing.T, m kafka.Message, raw map[string]bool, actorRaw bool) {
	t.Helper()
	for _, part := range strings.Split(string(m.Key), "/") {
		if raw[part] && !actorRaw {
			t.Fatalf("raw identifier %q in the record key %q", part, m.Key)
		}
	}
	var v any
	if err := json.Unmarshal(m.Value, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case string:
			if raw[x] && !(actorRaw && path == ".actor.id") {
				t.Fatalf("raw identifier %q at %s in record %s", x, path, m.Value)
			}
		case map[string]any:
			for k, y := range x {
				walk(path+"."+k, y)
			}
		case []any:
			for _, y := range x {
				walk(path+"[]", y)
			}
		}
	}
	walk("", v)
}

// readTopic reads n records of the one-partition topic from the start.
func readTopic(ctx context.Context, t *testing.T, cfg bus.Config, topic string, n int) []kafka.Message {
	t.Helper()
	r, err := bus.NewPartitionReader(cfg, topic, 0, kafka.FirstOffset)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read %s after %d of %d records: %v", topic, len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

func TestNewKafkaSinkNeedsPseudonymiser(t *testing.T) {
	_, err := NewKafkaSink(KafkaConfig{Bus: bus.Config{Brokers: []string{"127.0.0.1:1"}}})
	if err == nil || !strings.Contains(err.Error(), "no raw identifier may reach Kafka") {
		t.Fatalf("NewKafkaSink without a pseudonymiser: %v", err)
	}
}
