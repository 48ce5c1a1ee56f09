package kafkaconn_test

import (
	"os"

	"github.com/collision-detection-platform/distributed-platform/api/kafka/kafkaconn"
)

// A report as `cdp kafka check` prints it: a missing dead-letter topic and a
// group that has committed, with its lag.
func ExampleReport_WriteTo() {
	r := &kafkaconn.Report{
		Cluster: "prod-eu",
		Brokers: []string{"1 kafka-1:9092"},
		Topics: []kafkaconn.TopicStatus{
			{Key: "messaging.kafka.topics.vehicle_locations", Name: "vehicle-locations", Exists: true, Partitions: 12},
			{Key: "messaging.kafka.topics.dead_letter", Name: "vehicle-locations-dlq"},
		},
		Group: kafkaconn.GroupStatus{Name: "cdp-compute", State: "Stable", Members: 2, TotalLag: 40,
			Lag: []kafkaconn.PartitionLag{{Topic: "vehicle-locations", Partition: 0, Committed: 960, End: 1000, Lag: 40}}},
		Problems: []string{`topic "vehicle-locations-dlq" (messaging.kafka.topics.dead_letter) does not exist`},
	}
	r.WriteTo(os.Stdout)
	// Output:
	// cluster prod-eu: 1 broker(s)
	//   broker 1 kafka-1:9092
	// topic vehicle-locations             12 partition(s)  ok   (messaging.kafka.topics.vehicle_locations)
	// topic vehicle-locations-dlq        MISSING (messaging.kafka.topics.dead_letter)
	// group cdp-compute: Stable, 2 member(s), lag 40
	//   vehicle-locations[0]: committed 960, end 1000, lag 40
	// 1 problem(s):
	//   - topic "vehicle-locations-dlq" (messaging.kafka.topics.dead_letter) does not exist
}
