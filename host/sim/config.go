package sim

import (
	"math"
	"time"
)

// Limits of Config.
const (
	// MaxVehicles is the largest N New accepts.
	MaxVehicles = 1_000_000
	// MaxRate is the largest Rate New accepts, reports per vehicle per second.
	MaxRate = 100
	// MaxOriginLat bounds |OriginLat|, degrees: the simulator draws its world
	// on a flat map scaled by cos(latitude), which degrades near the poles.
	MaxOriginLat = 80
)

// Config describes a simulated world. The zero value of each field takes its
// default; New validates the result once.
type Config struct {
	// N is the number of vehicles, 0..MaxVehicles. Default 0 (an empty
	// world that reports nothing).
	N int
	// Seed selects the world: the same Config gives the same vehicles, routes
	// and reports. Default 0 (a valid seed like any other).
	Seed uint64
	// OriginLat and OriginLon are the centre of the world, WGS84 degrees;
	// |OriginLat| <= MaxOriginLat, OriginLon in [-180, 180]. Default 0, 0.
	// cdp serve passes system.frame.origin.
	OriginLat, OriginLon float64
	// Rate is the reports per vehicle per second, in (0, MaxRate]. Default 1.
	Rate float64
	// Jitter is the spread of each report's time around its slot: report k
	// of a vehicle falls in [k/Rate + phase, k/Rate + phase + Jitter), so
	// reports never swap order. Default (0): a fifth of the report period;
	// negative: none. Must be below the report period 1/Rate.
	Jitter time.Duration
	// Start is the world's time zero, when the staged encounters begin.
	// Default (zero Time): one report period before the first Step, so that
	// the first Step reports every vehicle once.
	Start time.Time
}

// resolve applies the defaults and validates; it returns the report period
// and the jitter in seconds.
func (c *Config) resolve() (period, jitter float64, err error) {
	if c.Rate == 0 {
		c.Rate = 1
	}
	switch {
	case c.N < 0 || c.N > MaxVehicles:
		return 0, 0, &ConfigError{Field: "N", Value: c.N, Msg: "must be in [0, 1000000] vehicles"}
	case !(c.Rate > 0 && c.Rate <= MaxRate):
		return 0, 0, &ConfigError{Field: "Rate", Value: c.Rate, Msg: "must be in (0, 100] reports per vehicle per second"}
	case !(math.Abs(c.OriginLat) <= MaxOriginLat):
		return 0, 0, &ConfigError{Field: "OriginLat", Value: c.OriginLat, Msg: "must be in [-80, 80] degrees"}
	case !(c.OriginLon >= -180 && c.OriginLon <= 180):
		return 0, 0, &ConfigError{Field: "OriginLon", Value: c.OriginLon, Msg: "must be in [-180, 180] degrees"}
	}
	period = 1 / c.Rate
	switch {
	case c.Jitter == 0:
		jitter = period / 5
	case c.Jitter > 0:
		jitter = c.Jitter.Seconds()
	}
	if jitter >= period {
		return 0, 0, &ConfigError{Field: "Jitter", Value: c.Jitter, Msg: "must be below the report period 1/Rate"}
	}
	return period, jitter, nil
}
