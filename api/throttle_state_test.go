package api

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestThrottleStateChanges: the first refused batch turns throttling on, a
// batch accepted a second after the last refusal turns it off; each change is
// told once to Options.OnThrottle.
func TestThrottleStateChanges(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	s, err := New(Options{Engine: &nopEngine{}, MaxTPS: 1000, ThrottlingThreshold: 1,
		OnThrottle: func(on bool, reason string) {
			mu.Lock()
			defer mu.Unlock()
			changes = append(changes, fmt.Sprintf("%v/%s", on, reason))
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.throttling(true, "rate")
	s.throttling(true, "rate") // already on: no second notice
	s.throttling(false, "accepting")
	if len(changes) != 1 {
		t.Fatalf("changes %v: off must wait a second after the last refusal", changes)
	}
	s.lastThrottle.Store(time.Now().Add(-2 * time.Second).UnixNano())
	s.throttling(false, "accepting")
	if want := []string{"true/rate", "false/accepting"}; !slices.Equal(changes, want) {
		t.Fatalf("changes %v, want %v", changes, want)
	}
}
