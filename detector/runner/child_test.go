package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/vigil-audit/vigil/detector"
	"github.com/vigil-audit/vigil/detector/behave"
	"github.com/vigil-audit/vigil/detector/sigma"
	"github.com/vigil-audit/vigil/internal/bus"
)

// The crash tests run a runner in a child process (this test binary,
// re-executed with childEnv set) so that it can be killed with SIGKILL:
// no shutdown, no last produce, snapshot or commit.
const childEnv = "VIGIL_RUNNER_TEST_CHILD"

// childSpec is what the child runs, as JSON in childEnv.
type childSpec struct {
	Brokers []string
	Rules   string
	// TimeZones maps orgs to IANA zone names, for the rules.
	TimeZones map[string]string
	// Behaviours turns on the built-in behaviours with their defaults.
	Behaviours bool
	Config     Config
	// Heartbeat and Session are the group timings.
	Heartbeat, Session time.Duration
}

// load returns the rules and runner options of the spec.
func (s childSpec) load() (*sigma.Set, []Option, error) {
	var so sigma.Options
	for org, name := range s.TimeZones {
		loc, err := time.LoadLocation(name)
		if err != nil {
			return nil, nil, err
		}
		if so.TimeZones == nil {
			so.TimeZones = map[string]*time.Location{}
		}
		so.TimeZones[org] = loc
	}
	set, err := sigma.LoadDir(s.Rules, so)
	if err != nil {
		return nil, nil, err
	}
	var opts []Option
	if s.Behaviours {
		cfg := behave.Defaults()
		cfg.OffHours.TimeZones = s.TimeZones
		opts = append(opts, WithBehaviours(func() ([]detector.Behaviour, error) { return behave.New(cfg) }))
	}
	return set, opts, nil
}

func (s childSpec) bus() bus.Config {
	cfg := bus.Defaults()
	cfg.Brokers = s.Brokers
	cfg.Reader.HeartbeatInterval = s.Heartbeat
	cfg.Reader.SessionTimeout = s.Session
	cfg.Reader.MaxWait = 100 * time.Millisecond
	return cfg
}

// runChild runs a runner until it is killed, or for at most five minutes.
func runChild() {
	var spec childSpec
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &spec); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	set, opts, err := spec.load()
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	r, err := New(spec.Config, spec.bus(), set, opts...)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	fmt.Println("RUNNING")
	if err := r.Run(ctx); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	os.Exit(0)
}
