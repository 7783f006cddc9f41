//go:build integration

package runner

import "testing"

// TestKafkaDispositions is TestDispositions on the real broker: Kafka 4
// carries the origin header and serves the alerts topic to the
// disposition reader outside the group as kfake does.
func TestKafkaDispositions(t *testing.T) { testDispositions(t, kafkaConfig(t)) }
