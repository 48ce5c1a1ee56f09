package engine

import (
	"math"
	"sort"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// tracker turns per-tick scores into risk episodes. A pair's episode opens
// when its risk reaches MinRisk, emits "updated" only when the risk moves by
// UpdateRiskDelta or the time of closest approach by UpdateTCADelta since the
// last event, and resolves when the risk falls below MinRisk - Hysteresis (so
// a pair hovering at the threshold does not flap), or when a vehicle expires.
// It runs on the tick goroutine only; the query phase reads bySlot
// concurrently, when nothing writes it.
type tracker struct {
	cfg    *Config
	open   map[uint64]*openRisk
	byID   map[string]*openRisk
	bySlot map[uint32][]*openRisk
}

type openRisk struct {
	a, b uint32
	view Risk // what the last event said
	cur  Risk // the latest assessment
	// below is set while the risk is under MinRisk - Hysteresis, since
	// belowSince (data time).
	below      bool
	belowSince float64
}

func (t *tracker) init(cfg *Config) {
	t.cfg = cfg
	t.open = make(map[uint64]*openRisk)
	t.byID = make(map[string]*openRisk)
	t.bySlot = make(map[uint32][]*openRisk)
}

func pairKey(a, b uint32) uint64 { return uint64(a)<<32 | uint64(b) }

// appendOpenPairs adds the pairs of slot s's open risks that the grid did not
// return (the two boxes no longer overlap), so that they are scored and can
// resolve. The lower dirty slot takes a pair, as for grid candidates.
func (t *tracker) appendOpenPairs(e *Engine, s uint32, cands []uint32, pairs []abi.Pair) []abi.Pair {
next:
	for _, r := range t.bySlot[s] {
		p := r.a
		if p == s {
			p = r.b
		}
		for _, c := range cands {
			if c == p {
				continue next
			}
		}
		if e.stamp[p] == e.tick && p < s {
			continue
		}
		pairs = append(pairs, orderedPair(s, p))
	}
	return pairs
}

func (t *tracker) assess(e *Engine, m *Models, s *scored) Risk {
	va, vb := &e.veh[s.pair.A], &e.veh[s.pair.B]
	ref := math.Max(va.T, vb.T)
	na, nb := e.names[s.pair.A], e.names[s.pair.B]
	if nb < na { // vehicle_a is the lesser id, whatever the arrival order
		na, nb = nb, na
		va, vb = vb, va
	}
	r := Risk{
		VehicleA: na,
		VehicleB: nb,
		Risk:     s.res.Risk,
		Time:     ref,
		TCA:      ref + s.res.TCA,
		DMin:     s.res.DMin,
		Model:    s.model,
	}
	if s.res.Flags&abi.ResultConflict != 0 {
		r.tin = ref + s.res.TIn
		r.hasTIn = true
	}
	r.los = s.res.Flags&abi.ResultLoS != 0
	r.stateA, r.stateB = va.T, vb.T
	// A TCA at the end of the window only says "still closing when the
	// predictions end": it moves with every report and is not material.
	r.tcaAtEnd = s.res.TCA >= math.Min(va.T, vb.T)+t.cfg.Horizon-ref-1e-9
	return r
}

func (t *tracker) observe(e *Engine, m *Models, s *scored, evs []Event) []Event {
	key := pairKey(s.pair.A, s.pair.B)
	r := t.open[key]
	cfg := t.cfg
	if r == nil {
		if s.res.Risk < cfg.MinRisk {
			return evs
		}
		cur := t.assess(e, m, s)
		cur.OpenedAt = cur.Time
		cur.ID = riskID(cur.VehicleA, cur.VehicleB, cur.stateA, cur.stateB)
		r = &openRisk{a: s.pair.A, b: s.pair.B, cur: cur, view: cur.withTIn()}
		t.open[key] = r
		t.byID[cur.ID] = r
		t.bySlot[r.a] = append(t.bySlot[r.a], r)
		t.bySlot[r.b] = append(t.bySlot[r.b], r)
		e.nOpen[r.a]++
		e.nOpen[r.b]++
		return append(evs, r.event(EventOpened, ""))
	}
	// A pair whose states are further apart in time than the horizon cannot
	// be assessed (the older prediction ends before the newer state begins):
	// the scorer answers 0, which means "unknown", not "separated". Keep the
	// last assessment until the stale vehicle reports again or expires; AIS
	// ships moored side by side report minutes apart.
	if ta, tb := e.veh[s.pair.A].T, e.veh[s.pair.B].T; math.Abs(ta-tb) > cfg.Horizon {
		return evs
	}
	cur := t.assess(e, m, s)
	cur.ID, cur.OpenedAt, cur.Seq = r.view.ID, r.view.OpenedAt, r.view.Seq
	cur.VehicleA, cur.VehicleB = r.view.VehicleA, r.view.VehicleB
	r.cur = cur
	if cur.Risk < cfg.MinRisk-cfg.Hysteresis {
		// Below the band: resolve once it has stayed there ResolveAfter
		// seconds of data time; until then it stays open (and its lower risk
		// is reported as an update, so nobody reads a stale high risk).
		if !r.below {
			r.below, r.belowSince = true, cur.Time
		}
		if cur.Time-r.belowSince >= cfg.ResolveAfter {
			evs = t.resolve(e, r, ReasonSeparated, evs)
			return evs
		}
	} else {
		r.below = false
	}
	// The time of closest approach of a pair already in loss of separation
	// says little (two moored ships a few metres apart with noisy speeds
	// have a TCA that jumps across the window at every report): for such a
	// pair only the risk and the model count as material.
	tcaMoved := math.Abs(cur.TCA-r.view.TCA) >= cfg.UpdateTCADelta && !(cur.los && r.view.los) &&
		!(cur.tcaAtEnd && r.view.tcaAtEnd)
	if math.Abs(cur.Risk-r.view.Risk) >= cfg.UpdateRiskDelta || tcaMoved || cur.Model != r.view.Model {
		cur.Seq++
		r.cur = cur
		r.view = r.cur.withTIn()
		evs = append(evs, r.event(EventUpdated, ""))
	}
	return evs
}

// current returns the risk's latest assessment, as Engine.Risks shows it.
func (r *openRisk) current() Risk {
	c := r.cur.withTIn()
	c.Resolving, c.ResolvingSince = r.below, 0
	if r.below {
		c.ResolvingSince = r.belowSince
	}
	return c
}

// event builds an event from the risk's latest assessment.
func (r *openRisk) event(typ EventType, reason string) Event {
	c := &r.cur
	return Event{
		ID:       eventID(c.ID, c.Seq),
		Type:     typ,
		RiskID:   c.ID,
		Seq:      c.Seq,
		VehicleA: c.VehicleA,
		VehicleB: c.VehicleB,
		Risk:     c.Risk,
		Time:     c.Time,
		TCA:      c.TCA,
		DMin:     c.DMin,
		TIn:      c.withTIn().TIn,
		Reason:   reason,
		OpenedAt: c.OpenedAt,
		Model:    c.Model,
	}
}

func (t *tracker) resolve(e *Engine, r *openRisk, reason string, evs []Event) []Event {
	r.cur.Seq = r.view.Seq + 1
	evs = append(evs, r.event(EventResolved, reason))
	delete(t.open, pairKey(r.a, r.b))
	delete(t.byID, r.view.ID)
	t.unlink(r.a, r)
	t.unlink(r.b, r)
	e.nOpen[r.a]--
	e.nOpen[r.b]--
	return evs
}

func (t *tracker) unlink(slot uint32, r *openRisk) {
	list := t.bySlot[slot]
	for i, x := range list {
		if x == r {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(t.bySlot, slot)
	} else {
		t.bySlot[slot] = list
	}
}

// resolveVehicle resolves every open risk of slot, in risk-id order.
func (t *tracker) resolveVehicle(e *Engine, slot uint32, reason string, evs []Event) []Event {
	list := append([]*openRisk(nil), t.bySlot[slot]...)
	sort.Slice(list, func(i, j int) bool { return list[i].view.ID < list[j].view.ID }) // rare: expiry
	for _, r := range list {
		evs = t.resolve(e, r, reason, evs)
	}
	return evs
}
