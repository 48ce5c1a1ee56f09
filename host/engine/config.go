package engine

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/collision-detection-platform/distributed-platform/grid"
)

// Config is the engine's typed configuration. The zero value of each field
// takes its default (see Default); host/config maps the YAML keys onto it.
type Config struct {
	// Horizon is collision_detection.prediction_time in seconds. Default 30.
	Horizon float64
	// MaxDistance is collision_detection.max_distance in metres: every pair
	// whose predicted trajectories come within it is a candidate. Default 200.
	MaxDistance float64
	// MinRisk is collision_detection.min_risk_level: a risk opens at or above
	// it. Default 0.3.
	MinRisk float64
	// Hysteresis is collision_detection.hysteresis: an open risk resolves only
	// below MinRisk - Hysteresis. Default 0.05.
	Hysteresis float64
	// UpdateRiskDelta is collision_detection.update_risk_delta: an open risk
	// emits "updated" when its risk moved by at least this much since the last
	// event. Default 0.1.
	UpdateRiskDelta float64
	// UpdateTCADelta is collision_detection.update_tca_delta in seconds: an open
	// risk emits "updated" when its predicted time of closest approach moved by
	// at least this much. Default 2.
	UpdateTCADelta float64
	// ResolveAfter is collision_detection.resolve_after in seconds of data
	// time: an open risk resolves only once its risk has stayed below
	// MinRisk - Hysteresis for this long, so a pair at the edge of its zone
	// (the builtin risk jumps from below 0.15 to 0.5 there) does not flap.
	// Until then the lower risk is reported as "updated". Default 10.
	ResolveAfter float64
	// VehicleTTL is collision_detection.vehicle_ttl in seconds: a vehicle not
	// heard for this long expires and its risks resolve as "lost". Default 30.
	VehicleTTL float64
	// ClassTTL is collision_detection.classes.*.vehicle_ttl in seconds, by
	// class index (abi.Vehicle.Class); 0 or a class beyond it takes
	// VehicleTTL. Ships report every few minutes, drones every second.
	ClassTTL []float64
	// Workers is compute.max_workers. Default 8 (at most GOMAXPROCS are busy).
	Workers int
	// BatchSize is compute.batch_size: vehicles per predict call and pairs per
	// score call. Default 100.
	BatchSize int
	// ProcessingInterval is compute.processing_interval: the longest Run goes
	// without a tick (it also ticks as soon as updates wait and the previous
	// tick is done). Default 100 ms.
	ProcessingInterval time.Duration
	// MaxPending bounds the updates accepted but not yet applied; Submit answers
	// ErrQueueFull beyond it (the API answers 429). It bounds both memory
	// and the ingest-to-risk latency under overload. Default 200,000.
	MaxPending int
	// MaxQueueDelay throttles ingest when ticks fall behind: while the
	// oldest update waiting for a tick has waited longer than this, Submit
	// and TrySubmit answer ErrQueueFull (the API answers 429, the Kafka
	// consumer waits), so that a slow model or an overloaded node bounds the
	// ingest-to-risk latency instead of growing the queue. Default 0: off
	// (the host sets compute.max_queue_delay).
	MaxQueueDelay time.Duration
	// MaxOpenRisks is collision_detection.max_open_risks: the most risks open
	// at once. Past it the engine keeps the highest risks (a new pair above
	// the lowest open risk displaces it, which resolves with reason
	// "capacity") and counts the rest as untracked (Stats.Untracked,
	// Stats.Saturated). An open risk costs about 200 bytes. Default 100,000.
	MaxOpenRisks int
	// MaxPairsPerTick is compute.max_pairs_per_tick: the scoring budget of a
	// tick. Once a tick has found this many candidate pairs, the updated
	// vehicles it has not yet queried are deferred to the next tick
	// (Stats.Deferred), so that a tick stays short whatever lands in it.
	// Default 4,000,000 (about 0.2 s of one core).
	MaxPairsPerTick int
	// OnSaturation, when set, is called on the tick goroutine when the
	// engine starts to drop work to its bounds (risks untracked, vehicles
	// deferred) and when it has not for SaturationHold (then saturated is
	// false). The host turns it into a log line and a system event.
	OnSaturation func(saturated bool, st Stats)
	// SaturationHold is how long the engine must work within its bounds
	// before Stats.Saturated clears and OnSaturation(false) is called.
	// Default 10 s.
	SaturationHold time.Duration
	// Grid configures the broadphase.
	Grid grid.Config
	// Now, when set, is the wall clock (Unix seconds) of a live server. The
	// engine clock that expires vehicles is the newest state time applied;
	// with Now set it also runs at wall speed between updates, so that a
	// vehicle that stops reporting expires even when nothing else reports,
	// and a server fed a recording expires its vehicles on the recording's
	// time, as a replay does. When nil (replay) it is data time only, which
	// makes replays deterministic.
	Now func() float64
}

// Default returns the defaults of every field.
func Default() Config {
	return Config{
		Horizon:            30,
		MaxDistance:        200,
		MinRisk:            0.3,
		Hysteresis:         0.05,
		UpdateRiskDelta:    0.1,
		UpdateTCADelta:     2,
		ResolveAfter:       10,
		VehicleTTL:         30,
		Workers:            8,
		BatchSize:          100,
		ProcessingInterval: 100 * time.Millisecond,
		MaxPending:         200_000,
		MaxOpenRisks:       100_000,
		MaxPairsPerTick:    4_000_000,
		SaturationHold:     10 * time.Second,
	}
}

// applyDefaults fills the fields whose zero value is not a valid setting.
// MinRisk, Hysteresis, UpdateRiskDelta, UpdateTCADelta and ResolveAfter mean
// something at 0, so they are taken as given: start from Default().
func (c *Config) applyDefaults() {
	d := Default()
	if c.Horizon == 0 {
		c.Horizon = d.Horizon
	}
	if c.MaxDistance == 0 {
		c.MaxDistance = d.MaxDistance
	}
	if c.VehicleTTL == 0 {
		c.VehicleTTL = d.VehicleTTL
	}
	if c.Workers == 0 {
		c.Workers = d.Workers
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.ProcessingInterval == 0 {
		c.ProcessingInterval = d.ProcessingInterval
	}
	if c.MaxPending == 0 {
		c.MaxPending = d.MaxPending
	}
	if c.MaxOpenRisks == 0 {
		c.MaxOpenRisks = d.MaxOpenRisks
	}
	if c.SaturationHold == 0 {
		c.SaturationHold = d.SaturationHold
	}
	if c.MaxPairsPerTick == 0 {
		c.MaxPairsPerTick = d.MaxPairsPerTick
	}
}

func (c *Config) validate() error {
	bad := func(key string, v any, want string) error {
		return fmt.Errorf("engine: %s: %s, got %v", key, want, v)
	}
	switch {
	case !(c.Horizon > 0) || math.IsInf(c.Horizon, 0):
		return bad("collision_detection.prediction_time", c.Horizon, "must be > 0 seconds")
	case !(c.MaxDistance > 0) || math.IsInf(c.MaxDistance, 0):
		return bad("collision_detection.max_distance", c.MaxDistance, "must be > 0 metres")
	case !(c.MinRisk >= 0 && c.MinRisk <= 1):
		return bad("collision_detection.min_risk_level", c.MinRisk, "must be in [0, 1]")
	case !(c.Hysteresis >= 0 && c.Hysteresis < 1):
		return bad("collision_detection.hysteresis", c.Hysteresis, "must be in [0, 1)")
	case !(c.ResolveAfter >= 0) || math.IsInf(c.ResolveAfter, 0):
		return bad("collision_detection.resolve_after", c.ResolveAfter, "must be >= 0 seconds")
	case !(c.UpdateRiskDelta >= 0) || !(c.UpdateTCADelta >= 0):
		return bad("collision_detection.update_risk_delta/update_tca_delta", [2]float64{c.UpdateRiskDelta, c.UpdateTCADelta}, "must be >= 0")
	case !(c.VehicleTTL > 0):
		return bad("collision_detection.vehicle_ttl", c.VehicleTTL, "must be > 0 seconds")
	case slices.ContainsFunc(c.ClassTTL, func(t float64) bool { return !(t >= 0) || math.IsInf(t, 0) }):
		return bad("collision_detection.classes.*.vehicle_ttl", c.ClassTTL, "must be >= 0 seconds")
	case c.Workers < 1:
		return bad("compute.max_workers", c.Workers, "must be >= 1")
	case c.BatchSize < 1:
		return bad("compute.batch_size", c.BatchSize, "must be >= 1")
	case c.MaxOpenRisks < 1 || c.MaxOpenRisks > 1<<28:
		return bad("collision_detection.max_open_risks", c.MaxOpenRisks, "must be in [1, 268435456]")
	case c.MaxPairsPerTick < 1:
		return bad("compute.max_pairs_per_tick", c.MaxPairsPerTick, "must be >= 1")
	case c.MaxPending < 1:
		return bad("engine max pending", c.MaxPending, "must be >= 1")
	}
	return nil
}
