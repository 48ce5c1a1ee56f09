package cli

import (
	"net"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

func kafkaCluster(t *testing.T, topics ...string) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// `cdp kafka check` reports a cluster that has every topic as ok, names a
// missing topic with its key, says so when no broker answers, and asks for
// brokers when none is configured.
func TestKafkaCheck(t *testing.T) {
	all := []string{"vehicle-locations", "collision-risks", "system-events", "vehicle-locations-dlq"}
	t.Run("ok", func(t *testing.T) {
		r := run(t, nil, "kafka", "check", "--brokers", kafkaCluster(t, all...), "--timeout", "10s")
		if r.code != ExitOK || !strings.Contains(r.stdout, "vehicle-locations") || !strings.HasSuffix(r.stdout, "ok\n") {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
		t.Log("\n" + r.stdout)
		if !strings.Contains(r.stdout, "group cdp-compute: not created yet") {
			t.Errorf("group state missing:\n%s", r.stdout)
		}
	})
	t.Run("missing topic", func(t *testing.T) {
		r := run(t, nil, "kafka", "check", "--brokers", kafkaCluster(t, all[:3]...), "--timeout", "10s")
		if r.code != ExitError || !strings.Contains(r.stdout, `topic "vehicle-locations-dlq" (messaging.kafka.topics.dead_letter) does not exist`) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		r := run(t, nil, "kafka", "check", "--brokers", addr, "--timeout", "2s")
		if r.code != ExitError || !strings.Contains(r.stderr, "cannot reach Kafka at "+addr) {
			t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("no brokers", func(t *testing.T) {
		r := run(t, nil, "kafka", "check")
		if r.code != ExitUsage || !strings.Contains(r.stderr, "messaging.kafka.bootstrap_servers") {
			t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
		}
	})
}
