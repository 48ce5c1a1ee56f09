package grid

import "math"

// Default configuration values; a zero Config field takes these.
const (
	DefaultInitialSize         = 100.0  // grid.initial_size, m
	DefaultMinSize             = 10.0   // grid.min_size, m
	DefaultMaxSize             = 1000.0 // grid.max_size, m
	DefaultAdjustmentThreshold = 0.8    // grid.adjustment_threshold
	DefaultAdjustmentFactor    = 0.5    // grid.adjustment_factor
	DefaultTargetOccupancy     = 4.0    // grid.target_occupancy
	DefaultShards              = 64     // grid.shards
	maxShards                  = 1 << 12
)

// Config configures a Grid. The zero value is valid: every zero field takes
// its default. The configuration keys the host loads into each field are
// named in brackets.
type Config struct {
	// InitialSize is the base (level-0) cell edge at start, in metres
	// [grid.initial_size]. Default 100. Must lie in [MinSize, MaxSize].
	InitialSize float64
	// MinSize is the smallest base cell edge Adjust may choose, in metres
	// [grid.min_size]. Default 10.
	MinSize float64
	// MaxSize is the largest base cell edge Adjust may choose, in metres
	// [grid.max_size]. Default 1000.
	MaxSize float64
	// AdjustmentThreshold θ in (0, 1] sets the hysteresis band of the resize
	// rule: the cell size stays while the occupancy q lies in
	// [TargetOccupancy·θ, TargetOccupancy/θ] [grid.adjustment_threshold].
	// Default 0.8.
	AdjustmentThreshold float64
	// AdjustmentFactor f in (0, 1) is the resize step: a shrink multiplies the
	// base cell edge by f, a growth divides it by f
	// [grid.adjustment_factor]. Default 0.5.
	AdjustmentFactor float64
	// TargetOccupancy T > 0 is the occupancy Adjust steers towards, in
	// entry-weighted boxes per level-0 cell [grid.target_occupancy]. Default 4.
	TargetOccupancy float64
	// Shards is the number of independently locked partitions of the cells
	// [grid.shards]. Default 64, at most 4096.
	Shards int
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.InitialSize == 0 {
		c.InitialSize = DefaultInitialSize
	}
	if c.MinSize == 0 {
		c.MinSize = DefaultMinSize
	}
	if c.MaxSize == 0 {
		c.MaxSize = DefaultMaxSize
	}
	if c.AdjustmentThreshold == 0 {
		c.AdjustmentThreshold = DefaultAdjustmentThreshold
	}
	if c.AdjustmentFactor == 0 {
		c.AdjustmentFactor = DefaultAdjustmentFactor
	}
	if c.TargetOccupancy == 0 {
		c.TargetOccupancy = DefaultTargetOccupancy
	}
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	return c
}

// validate checks a defaulted Config; the error names the key.
func (c Config) validate() error {
	positive := func(key string, v float64) error {
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return &ConfigError{Key: key, Value: v, Reason: "must be finite and > 0"}
		}
		return nil
	}
	for _, f := range []struct {
		key string
		v   float64
	}{
		{"grid.initial_size", c.InitialSize},
		{"grid.min_size", c.MinSize},
		{"grid.max_size", c.MaxSize},
		{"grid.adjustment_threshold", c.AdjustmentThreshold},
		{"grid.adjustment_factor", c.AdjustmentFactor},
		{"grid.target_occupancy", c.TargetOccupancy},
	} {
		if err := positive(f.key, f.v); err != nil {
			return err
		}
	}
	if c.MinSize > c.MaxSize {
		return &ConfigError{Key: "grid.min_size", Value: c.MinSize, Reason: "is above", Other: "grid.max_size"}
	}
	if c.InitialSize < c.MinSize {
		return &ConfigError{Key: "grid.initial_size", Value: c.InitialSize, Reason: "is below", Other: "grid.min_size"}
	}
	if c.InitialSize > c.MaxSize {
		return &ConfigError{Key: "grid.initial_size", Value: c.InitialSize, Reason: "is above", Other: "grid.max_size"}
	}
	if c.AdjustmentThreshold > 1 {
		return &ConfigError{Key: "grid.adjustment_threshold", Value: c.AdjustmentThreshold, Reason: "must be in (0, 1]"}
	}
	if c.AdjustmentFactor >= 1 {
		return &ConfigError{Key: "grid.adjustment_factor", Value: c.AdjustmentFactor, Reason: "must be in (0, 1)"}
	}
	if c.Shards < 1 || c.Shards > maxShards {
		return &ConfigError{Key: "grid.shards", Value: float64(c.Shards), Reason: "must be in [1, 4096]"}
	}
	return nil
}
