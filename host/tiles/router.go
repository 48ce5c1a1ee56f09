package tiles

import (
	"math"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Kind is what a routed copy of a state means to its partition.
type Kind uint8

// Route kinds.
const (
	// Home: the partition of the tile that holds the vehicle's position.
	Home Kind = iota
	// Ghost: a partition whose tiles the vehicle's halo reaches.
	Ghost
	// Leave: a partition the vehicle's previous state reached and this one
	// does not; its node forgets the vehicle (silently: its pairs there are
	// reported by another tile now).
	Leave
)

// String names the kind as the record header cdp-route carries it.
func (k Kind) String() string {
	switch k {
	case Home:
		return "home"
	case Ghost:
		return "ghost"
	case Leave:
		return "leave"
	}
	return "unknown"
}

// Target is one partition a state goes to, and why.
type Target struct {
	Partition int32
	Kind      Kind
}

// RouterConfig configures a Router.
type RouterConfig struct {
	Layout Layout
	// Horizon is collision_detection.prediction_time, seconds. Required.
	Horizon float64
	// MaxDistance is collision_detection.max_distance, metres. Required.
	MaxDistance float64
	// VehicleTTL is the longest vehicle TTL (collision_detection.vehicle_ttl
	// or a class's), seconds: a vehicle not
	// routed for twice this long of data time is forgotten (its nodes have
	// expired it by then, on the same clock). Required.
	VehicleTTL float64
	// HoldTime grows the halo that decides where copies go (not the one the
	// reference point is taken from) by speed × HoldTime, seconds: a node
	// then holds a vehicle for about that long before the reference point of
	// its pairs can reach the node's tiles, so it has seen the risk open (see
	// RATIONALE.md). Default 0.
	HoldTime float64
	// MaxVehicles bounds the vehicles remembered; past it the least recently
	// routed ones are forgotten first at the next sweep. Default 4,000,000.
	MaxVehicles int
}

// Router is the repartitioning stage: it remembers, per vehicle, which tiles
// its last state reached, so that it can send a leave where the new one no
// longer does. It is not safe for concurrent use: one Router per ingest
// goroutine that owns the vehicles routed through it (the stage is keyed by
// vehicle id).
type Router struct {
	cfg   RouterConfig
	last  map[string]*routed
	clock float64 // newest state time routed (data time)
	swept float64
	prev  []int32 // scratch: partitions of the previous state
	cur   []int32
	st    RouterStats
}

type routed struct {
	t    float64
	home Tile
	span Span
}

// RouterStats counts what a Router did.
type RouterStats struct {
	States  uint64 // states routed
	Ghosts  uint64 // ghost copies sent
	Leaves  uint64 // leaves sent
	Stale   uint64 // states dropped: not newer than the vehicle's last
	Expired uint64 // vehicles forgotten after VehicleTTL
	Tracked int    // vehicles remembered now
}

// NewRouter returns a router; cfg.Layout must be valid.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if err := cfg.Layout.Validate(); err != nil {
		return nil, err
	}
	switch {
	case !(cfg.Horizon > 0):
		return nil, &LayoutError{Key: "collision_detection.prediction_time", Value: cfg.Horizon, Reason: "must be > 0"}
	case !(cfg.MaxDistance > 0):
		return nil, &LayoutError{Key: "collision_detection.max_distance", Value: cfg.MaxDistance, Reason: "must be > 0"}
	case !(cfg.VehicleTTL > 0):
		return nil, &LayoutError{Key: "collision_detection.vehicle_ttl", Value: cfg.VehicleTTL, Reason: "must be > 0"}
	}
	if cfg.MaxVehicles <= 0 {
		cfg.MaxVehicles = 4_000_000
	}
	return &Router{cfg: cfg, last: make(map[string]*routed), swept: math.Inf(-1)}, nil
}

// Layout returns the router's layout.
func (r *Router) Layout() Layout { return r.cfg.Layout }

// Clock returns the newest state time routed.
func (r *Router) Clock() float64 { return r.clock }

// Route appends to dst the partitions the state v of vehicle id goes to: the
// home partition first, then ghosts, then leaves. A state not newer than the
// vehicle's last one is dropped (nothing appended, ok false), as the engine
// would drop it. id may alias a caller's buffer.
func (r *Router) Route(id []byte, v *abi.Vehicle, dst []Target) ([]Target, bool) {
	l := r.cfg.Layout
	h := HaloOf(v, r.cfg.Horizon, r.cfg.MaxDistance)
	if m := r.cfg.HoldTime * math.Sqrt(v.VX*v.VX+v.VY*v.VY+v.VZ*v.VZ); m > 0 {
		h = Halo{h.MinX - m, h.MinY - m, h.MaxX + m, h.MaxY + m}
	}
	home, span := l.TileOf(v.X, v.Y), l.SpanOf(h)
	st, known := r.last[string(id)] // no allocation: the compiler's map lookup by []byte
	if known && !(v.T > st.t) {
		r.st.Stale++
		return dst, false
	}
	r.cur = l.AppendPartitions(r.cur[:0], home, span)
	for i, p := range r.cur {
		k := Ghost
		if i == 0 {
			k = Home
		}
		dst = append(dst, Target{p, k})
	}
	r.st.Ghosts += uint64(len(r.cur) - 1)
	if known {
		if st.home != home || st.span != span {
			r.prev = l.AppendPartitions(r.prev[:0], st.home, st.span)
			for _, p := range r.prev {
				if !containsP(r.cur, p) {
					dst = append(dst, Target{p, Leave})
					r.st.Leaves++
				}
			}
		}
		st.t, st.home, st.span = v.T, home, span
	} else {
		r.last[string(id)] = &routed{t: v.T, home: home, span: span}
	}
	r.st.States++
	if v.T > r.clock {
		r.clock = v.T
	}
	if r.clock-r.swept >= 1 || len(r.last) > r.cfg.MaxVehicles {
		r.sweep()
	}
	return dst, true
}

// sweep forgets the vehicles not routed for VehicleTTL (at most once per
// second of data time), and the oldest ones beyond MaxVehicles.
func (r *Router) sweep() {
	r.swept = r.clock
	// Twice the TTL: a node expires a vehicle on its own tick's sweep, which
	// may come after the router's; forgetting it first would route its next
	// state as a new vehicle's, without the leaves its old tiles need.
	limit := r.clock - 2*r.cfg.VehicleTTL
	if len(r.last) > r.cfg.MaxVehicles {
		// Raise the limit until the excess goes: rare (a fleet beyond the
		// configured bound), so a linear search on time is enough.
		ts := make([]float64, 0, len(r.last))
		for _, s := range r.last {
			ts = append(ts, s.t)
		}
		k := len(ts) - r.cfg.MaxVehicles
		limit = math.Max(limit, kth(ts, k))
	}
	for id, s := range r.last {
		if s.t < limit || (len(r.last) > r.cfg.MaxVehicles && s.t <= limit) {
			delete(r.last, id)
			r.st.Expired++
		}
	}
}

// kth returns the k-th smallest value of ts (1-based), reordering ts.
func kth(ts []float64, k int) float64 {
	lo, hi := 0, len(ts)-1
	k--
	for lo < hi {
		p := ts[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for ts[i] < p {
				i++
			}
			for ts[j] > p {
				j--
			}
			if i <= j {
				ts[i], ts[j] = ts[j], ts[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return ts[k]
		}
	}
	return ts[k]
}

// Stats returns the router's counters.
func (r *Router) Stats() RouterStats {
	s := r.st
	s.Tracked = len(r.last)
	return s
}
