package runner

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/internal/bus"
)

func TestConfigValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{name: "zero is valid", cfg: Config{}},
		{name: "defaults are valid", cfg: Defaults()},
		{name: "negatives", cfg: Config{MaxBatch: -1, SnapshotEvents: -2, SnapshotInterval: -time.Second, CommitInterval: -1, WriteTimeout: -1, RestoreTimeout: -1, UnreadyAfter: -1},
			want: []string{"detect.max_batch: -1 is negative (0 means the default, 5000)", "detect.snapshot_events", "detect.snapshot_interval: -1s is negative",
				"detect.commit_interval", "detect.write_timeout", "detect.restore_timeout", "detect.unready_after"}},
		{name: "negative max_dispositions", cfg: Config{MaxDispositions: -1},
			want: []string{"detect.max_dispositions: -1 is negative (0 means the default, 100000)"}},
		{name: "one topic twice", cfg: Config{AlertsTopic: bus.TopicAccess},
			want: []string{`detect.alerts_topic: "vigil.access.v1" is also detect.access_topic`}},
		{name: "state topic as alerts topic", cfg: Config{StateTopic: "x", AlertsTopic: "x"},
			want: []string{`detect.state_topic: "x" is also detect.alerts_topic`}},
		{name: "spaces", cfg: Config{DeviceTopic: " d"}, want: []string{"detect.device_topic"}},
		{name: "detector options", cfg: Config{Options: detector.Options{MaxGroups: -1, Exceptions: []detector.Exception{{Rule: "x"}}}},
			want: []string{"detect.options.max_groups", "detect.options.exceptions[0].reason: required"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	d := Config{}.withDefaults()
	if !reflect.DeepEqual(d, Defaults()) {
		t.Errorf("withDefaults of zero %+v, want %+v", d, Defaults())
	}
	c := Config{Group: "g", MaxBatch: 7}.withDefaults()
	if c.Group != "g" || c.MaxBatch != 7 || c.AlertsTopic != bus.TopicAlerts {
		t.Errorf("withDefaults overrode set fields: %+v", c)
	}
	if tickInterval(Defaults()) != 500*time.Millisecond {
		t.Errorf("tick %v", tickInterval(Defaults()))
	}
}
