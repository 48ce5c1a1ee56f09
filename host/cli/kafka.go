package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/api/kafka/kafkaconn"
)

// kafkaFlagKeys maps the kafka commands' flags to the keys they set.
var kafkaFlagKeys = map[string]string{
	"brokers": "messaging.kafka.bootstrap_servers",
	"group":   "messaging.kafka.consumer_group",
}

// newKafkaCmd: cdp kafka check
func newKafkaCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "kafka",
		Short: "Check the Kafka cluster cdp is configured for",
		Long: `Inspect the Kafka cluster of messaging.kafka: whether the brokers answer
(with the configured TLS and SASL), whether the topics exist, and the state and
lag of the consumer group.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newKafkaCheckCmd(a))
	return cmd
}

// newKafkaCheckCmd: cdp kafka check [--brokers host:port,...] [--group G] [--timeout D]
func newKafkaCheckCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check connectivity, topics and the consumer group",
		Long: `Connect to messaging.kafka.bootstrap_servers the way 'cdp serve' does (TLS,
SASL) and report the brokers, each topic cdp reads or writes
(messaging.kafka.topics.*) with its partitions, and the consumer group
(messaging.kafka.consumer_group) with its state, members and committed lag
on vehicle-locations. Prints "ok" and exits 0 when cdp can run against the
cluster; otherwise lists what is wrong and what to do, and exits 1.`,
		Example: `  cdp kafka check --config /etc/cdp.yaml
  cdp kafka check --brokers kafka-1:9092,kafka-2:9092
  CDP_MESSAGING_KAFKA_SASL_PASSWORD=... cdp kafka check --config cdp.yaml`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, _, err := a.loadConfig(cmd, kafkaFlagKeys, nil)
			if err != nil {
				return err
			}
			k := cfg.Messaging.Kafka
			if len(k.BootstrapServers) == 0 {
				return usagef(cmd, "no broker to check: set messaging.kafka.bootstrap_servers (in the file, CDP_MESSAGING_KAFKA_BOOTSTRAP_SERVERS or --brokers)")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			r, err := kafkaconn.Check(ctx, k)
			if err != nil {
				if errors.Is(err, kafkaconn.ErrUnreachable) {
					fmt.Fprintln(cmd.ErrOrStderr(), "cdp kafka check:", err)
					return reportedError{err}
				}
				return err
			}
			if _, err := r.WriteTo(cmd.OutOrStdout()); err != nil {
				return err
			}
			if !r.OK() {
				return reportedError{fmt.Errorf("kafka: %d problem(s)", len(r.Problems))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("brokers", "", "seed brokers as `host:port,...` (messaging.kafka.bootstrap_servers)")
	f.String("group", "", "consumer `group` to inspect (messaging.kafka.consumer_group)")
	f.DurationVar(&timeout, "timeout", 15*time.Second, "give up after this `duration`")
	return cmd
}
