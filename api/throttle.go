package api

import (
	"math"
	"sync"
	"time"
)

// tokenBucket limits ingest to a sustained rate of records per second with a
// bounded burst. A batch takes as many tokens as it has valid records, all or
// nothing, so a throttled batch is refused whole (429) and nothing of it is
// half-accepted.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second; <= 0 disables the bucket
	burst  float64 // capacity
	tokens float64
	last   time.Time
	now    func() time.Time
}

// newTokenBucket returns a bucket refilling at rate tokens/s holding at most
// rate*burst tokens, and never fewer than minBurst (so that one largest
// allowed batch can always pass an idle bucket). rate <= 0 disables it.
func newTokenBucket(rate float64, burst time.Duration, minBurst int, now func() time.Time) *tokenBucket {
	b := &tokenBucket{rate: rate, now: now}
	if rate > 0 {
		b.burst = math.Max(rate*burst.Seconds(), float64(minBurst))
		b.tokens = b.burst
		b.last = now()
	}
	return b
}

// take takes n tokens when the bucket holds them and reports true; otherwise
// it takes none and reports how long until it would hold n.
func (b *tokenBucket) take(n int) (bool, time.Duration) {
	if b.rate <= 0 || n <= 0 {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(b.burst, b.tokens+dt*b.rate)
	}
	b.last = now
	need := float64(n)
	if b.tokens >= need {
		b.tokens -= need
		return true, 0
	}
	wait := (math.Min(need, b.burst) - b.tokens) / b.rate
	return false, time.Duration(wait * float64(time.Second))
}

// refund gives back n tokens taken for a batch the engine then refused.
func (b *tokenBucket) refund(n int) {
	if b.rate <= 0 || n <= 0 {
		return
	}
	b.mu.Lock()
	b.tokens = math.Min(b.burst, b.tokens+float64(n))
	b.mu.Unlock()
}

// retryAfterSeconds rounds a wait up to whole seconds, at least 1, as the
// Retry-After header needs.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
