package bus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The crash test runs the embedded broker in a child process (this test
// binary, re-executed) so that it can be killed with SIGKILL: no Close, no
// final save. These variables tell the child what to do.
const (
	crashChildDir    = "VIGIL_BUS_TEST_CRASH_CHILD_DIR"
	crashChildNoSync = "VIGIL_BUS_TEST_CRASH_CHILD_NOSYNC"
)

// runCrashChild is the child: start the broker, print its address, wait to
// be killed (at most a minute).
func runCrashChild(dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := StartEmbedded(ctx, EmbeddedConfig{
		DataDir: dir,
		Listen:  "127.0.0.1:0",
		NoSync:  os.Getenv(crashChildNoSync) == "1",
		Topics:  []TopicSpec{{Name: TopicAccess, Partitions: 4}},
	})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", e.Addr())
	time.Sleep(time.Minute)
	os.Exit(2)
}

// TestEmbeddedCrash: records acknowledged (acks=all) and offsets committed
// before the broker process is killed with SIGKILL are there when a broker
// starts again on the same data directory.
func TestEmbeddedCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		noSync bool
	}{{"fsync", false}, {"nosync", true}} {
		t.Run(tc.name, func(t *testing.T) {
			const total, committed = 300, 170
			dir := filepath.Join(t.TempDir(), "kafka")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			lap := stopwatch(t)

			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildDir+"="+dir)
			if tc.noSync {
				cmd.Env = append(cmd.Env, crashChildNoSync+"=1")
			}
			cmd.Stderr = os.Stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killed := false
			defer func() {
				if !killed {
					_ = cmd.Process.Kill()
					_ = cmd.Wait()
				}
			}()
			line, err := bufio.NewReader(out).ReadString('\n')
			addr, ok := strings.CutPrefix(strings.TrimSpace(line), "ADDR ")
			if err != nil || !ok {
				t.Fatalf("child broker: %q, %v", line, err)
			}
			lap("start child broker")

			cfg := Defaults()
			cfg.Brokers = []string{addr}
			w, err := NewWriter(cfg, TopicAccess)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteMessages(ctx, keyedMessages(total)...); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := NewGroupReader(cfg, "sink", TopicAccess)
			if err != nil {
				t.Fatal(err)
			}
			before := fetchN(ctx, t, r, total)
			if err := r.CommitMessages(ctx, before[:committed]...); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil { // flushes the commit
				t.Fatal(err)
			}
			offsets := committedOffsets(ctx, t, cfg, "sink", TopicAccess, 4)
			lap("produce, consume, commit")

			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
			_ = cmd.Wait() // "signal: killed"
			lap("SIGKILL")

			e := startEmbedded(t, EmbeddedConfig{DataDir: dir, Topics: []TopicSpec{}})
			cfg = e.Config()
			after := committedOffsets(ctx, t, cfg, "sink", TopicAccess, 4)
			for p, o := range offsets {
				if after[p] != o {
					t.Errorf("partition %d: committed offset %d before the crash, %d after", p, o, after[p])
				}
			}
			r2, err := NewGroupReader(cfg, "sink", TopicAccess)
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			want := map[record]bool{}
			for _, m := range before[committed:] {
				want[recordOf(m)] = true
			}
			for _, m := range fetchN(ctx, t, r2, total-committed) {
				if !want[recordOf(m)] {
					t.Errorf("after the crash got %+v, which was committed or never written", recordOf(m))
				}
			}
			expectNoMore(ctx, t, r2, 500*time.Millisecond)
			if err := r2.Close(); err != nil {
				t.Fatal(err)
			}
			lap("restart + resume")
		})
	}
}
