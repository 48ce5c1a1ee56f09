package kafka

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A Bridge that starts, consumes and stops leaves no goroutine behind.
func TestBridgeLeavesNoGoroutine(t *testing.T) {
	c := NewCluster(t, 2)
	k := ClusterConfig(c, "leak")
	eng := newTestEngine(t, nil)
	time.Sleep(50 * time.Millisecond)
	before := runtime.NumGoroutine()

	b, err := New(Options{Kafka: k, Node: "leak", Engine: eng, Validator: eng.val, Frame: eng.frame})
	if err != nil {
		t.Fatal(err)
	}
	b.Start(nil)
	now := time.Now().Unix()
	var values [][]byte
	for i := range 100 {
		values = append(values, fmt.Appendf(nil, `{"id":"v%d","t":%d,"lat":51.5,"lon":-0.12,"alt":100,"vx":1,"vy":0}`, i, now))
	}
	values = append(values, []byte("not json"))
	ProduceAll(t, c.ListenAddrs(), k.Topics.VehicleLocations, nil, values)
	waitFor(t, "the records consumed", 20*time.Second, func() bool {
		s := b.Stats()
		return s.Submitted+s.Rejected == uint64(len(values))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := b.Close(ctx, nil); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		var ours []string
		for _, g := range strings.Split(stacks, "\n\n") {
			if strings.Contains(g, "franz-go/pkg/kgo") || strings.Contains(g, "api/kafka.") {
				ours = append(ours, g)
			}
		}
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, strings.Join(ours, "\n\n"))
	}
}
