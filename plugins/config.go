package plugins

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Default limits; see Limits.
const (
	DefaultMemoryPages    = 2048 // 128 MiB
	DefaultBatchTimeout   = 200 * time.Millisecond
	DefaultInitTimeout    = 5 * time.Second
	DefaultMaxModuleBytes = 32 << 20
	DefaultMaxBatch       = 16384
	DefaultMaxCallDepth   = 10000
	// DefaultMaxSpeed is the plausible top speed, m/s, of a vehicle whose
	// class names none (Options.MaxSpeeds): the ingest bound, no accepted
	// vehicle is faster.
	DefaultMaxSpeed       = 1500.0
	DefaultBreakerCount   = 5
	DefaultBreakerWindow  = time.Minute
	DefaultLogLinesPerSec = 5
	DefaultLogBurst       = 20
)

// Limits bound what one plugin may use. The zero value of every field means
// its default. The koanf tags are the suggested configuration keys
// (plugins.scorer.limits.batch_timeout, ...).
type Limits struct {
	// MemoryPages caps each instance's linear memory, in 64 KiB pages.
	// Default 2048 (128 MiB); at most 65536.
	MemoryPages uint32 `koanf:"memory_pages" json:"memory_pages"`
	// BatchTimeout bounds one guest batch call (cdp_score, cdp_predict).
	// Default 200 ms.
	BatchTimeout time.Duration `koanf:"batch_timeout" json:"batch_timeout"`
	// InitTimeout bounds creating an instance: instantiation, _initialize,
	// cdp_abi_version, cdp_manifest and cdp_init together. Default 5 s.
	InitTimeout time.Duration `koanf:"init_timeout" json:"init_timeout"`
	// MaxModuleBytes refuses larger modules before compiling them. Default
	// 32 MiB.
	MaxModuleBytes int `koanf:"max_module_bytes" json:"max_module_bytes"`
	// MaxBatch is the most pairs (score) or vehicles (predict) sent in one
	// guest call; larger batches are split. Default 16384.
	MaxBatch int `koanf:"max_batch" json:"max_batch"`
	// MaxCallDepth bounds the guest's call stack, in frames of up to 16
	// parameters and locals (a larger frame counts once per 16): a deeper
	// call traps ("call depth"). wazero would otherwise grow the stack to
	// 400 MB of host memory before it traps. Default 10000; at most 1<<30.
	MaxCallDepth uint32 `koanf:"max_call_depth" json:"max_call_depth"`
}

// Breaker takes a plugin out of service after Failures failures within
// Window, until Plugin.Reset. Zero values mean the defaults (5 in 1 min);
// Failures < 0 disables the breaker.
type Breaker struct {
	Failures int           `koanf:"failures" json:"failures"`
	Window   time.Duration `koanf:"window" json:"window"`
}

// Options configure one loaded plugin. The zero value works: default limits,
// one instance per GOMAXPROCS, no fallback (a failed batch returns its error),
// deterministic fake clock and randomness, logs to slog.Default().
type Options struct {
	// Config is the plugin's JSON configuration, passed to cdp_init. Default
	// "{}". A plugin without cdp_init refuses a non-empty configuration.
	Config json.RawMessage
	// Limits per plugin; zero fields take their defaults.
	Limits Limits
	// Instances is the pool size: the most guest calls that run at once.
	// Default runtime.GOMAXPROCS(0).
	Instances int
	// Fallback scores a batch whose guest call failed (the engine passes the
	// last good model, which itself falls back to the builtin). Default nil:
	// the failure is returned.
	Fallback abi.Scorer
	// FallbackPredictor is Fallback for predict batches.
	FallbackPredictor abi.Predictor
	// Breaker: see Breaker. Default 5 failures in 1 minute.
	Breaker Breaker
	// MaxSpeeds is the plausible top speed, m/s, of each vehicle class (by
	// abi class index; 0 or a class beyond the slice: DefaultMaxSpeed). A
	// predicted box that reaches farther from its vehicle than the horizon
	// times that speed (or 1.5 times the vehicle's own speed, when more)
	// plus margins fails the batch as malformed. Default nil: 1500 m/s for
	// every class.
	MaxSpeeds []float64
	// AllowClock gives the guest the real wall and monotonic clocks; default
	// deterministic fakes.
	AllowClock bool
	// AllowRandom gives the guest crypto/rand; default a deterministic stream.
	AllowRandom bool
	// Logger receives guest stdout/stderr lines and failures. Default
	// slog.Default().
	Logger *slog.Logger
	// LogLinesPerSecond and LogBurst rate-limit guest output lines (excess
	// lines are dropped and counted). Defaults 5 and 20.
	LogLinesPerSecond float64
	LogBurst          int

	// uninstrumented loads the module as uploaded, without the deadline
	// checks and call-depth budget of instrument: only for
	// BenchmarkInstrumentCost, which measures what they cost.
	uninstrumented bool
}

// resolved returns o with every default filled in, or an error naming the
// bad field.
func (o Options) resolved() (Options, error) {
	l := &o.Limits
	if l.MemoryPages == 0 {
		l.MemoryPages = DefaultMemoryPages
	}
	if l.MemoryPages > 65536 {
		return o, fmt.Errorf("plugins: Limits.MemoryPages = %d exceeds 65536 (4 GiB)", l.MemoryPages)
	}
	if l.BatchTimeout == 0 {
		l.BatchTimeout = DefaultBatchTimeout
	}
	if l.InitTimeout == 0 {
		l.InitTimeout = DefaultInitTimeout
	}
	if l.BatchTimeout < 0 || l.InitTimeout < 0 {
		return o, fmt.Errorf("plugins: Limits.BatchTimeout = %v and Limits.InitTimeout = %v must be positive", l.BatchTimeout, l.InitTimeout)
	}
	if l.MaxModuleBytes == 0 {
		l.MaxModuleBytes = DefaultMaxModuleBytes
	}
	if l.MaxBatch == 0 {
		l.MaxBatch = DefaultMaxBatch
	}
	if l.MaxCallDepth == 0 {
		l.MaxCallDepth = DefaultMaxCallDepth
	}
	if l.MaxCallDepth > 1<<30 {
		return o, fmt.Errorf("plugins: Limits.MaxCallDepth = %d exceeds %d", l.MaxCallDepth, 1<<30)
	}
	if l.MaxModuleBytes < 0 || l.MaxBatch < 0 {
		return o, fmt.Errorf("plugins: Limits.MaxModuleBytes = %d and Limits.MaxBatch = %d must be positive", l.MaxModuleBytes, l.MaxBatch)
	}
	if o.Instances == 0 {
		o.Instances = runtime.GOMAXPROCS(0)
	}
	if o.Instances < 0 {
		return o, fmt.Errorf("plugins: Instances = %d must be positive", o.Instances)
	}
	if o.Breaker.Failures == 0 {
		o.Breaker.Failures = DefaultBreakerCount
	}
	if o.Breaker.Window == 0 {
		o.Breaker.Window = DefaultBreakerWindow
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.LogLinesPerSecond == 0 {
		o.LogLinesPerSecond = DefaultLogLinesPerSec
	}
	if o.LogBurst == 0 {
		o.LogBurst = DefaultLogBurst
	}
	for i, v := range o.MaxSpeeds {
		if !(v >= 0) || v-v != 0 {
			return o, fmt.Errorf("plugins: MaxSpeeds[%d] = %v must be a non-negative speed in m/s", i, v)
		}
	}
	if len(o.Config) == 0 {
		o.Config = json.RawMessage("{}")
	}
	if !json.Valid(o.Config) {
		return o, fmt.Errorf("plugins: Config is not valid JSON")
	}
	return o, nil
}

// emptyConfig reports whether a JSON config says nothing.
func emptyConfig(c json.RawMessage) bool {
	s := strings.TrimSpace(string(c))
	return s == "" || s == "{}" || s == "null"
}
