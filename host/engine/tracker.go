package engine

import (
	"cmp"
	"encoding/hex"
	"math"
	"slices"
	"sync"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// tracker turns per-tick scores into risk episodes. A pair's episode opens
// when its risk reaches MinRisk, emits "updated" only when the risk moves by
// UpdateRiskDelta or the time of closest approach by UpdateTCADelta since the
// last event, and resolves when the risk falls below MinRisk - Hysteresis (so
// a pair hovering at the threshold does not flap), or when a vehicle expires.
// At most MaxOpenRisks are open: past it the highest risks are kept (see
// admit).
//
// Memory per open risk is what bounds a dense scene, so a risk is a fixed
// 152-byte record in pages (no pointers, no strings: the vehicle names are the
// state table's, the model an index into a small table), found by pair in one
// map and by id in another, and chained into its two vehicles' lists through
// indices (see RATIONALE.md, "Why is an open risk a 152-byte record?").
//
// It runs on the tick goroutine only; the query phase reads open and the
// per-vehicle lists concurrently, when nothing writes them.
type tracker struct {
	cfg   *Config
	pages [][]openRisk
	used  uint32   // records handed out from the pages (high-water mark)
	free  []uint32 // released record refs
	open  map[uint64]uint32
	byID  map[[12]byte]uint32

	modelMu  sync.Mutex
	models   []abi.ModelID
	modelIdx map[abi.ModelID]uint16

	// scratch of admit, reused
	fresh, rejected []int32
	low             []uint32
}

// A record ref is its index + 1 in the pages; 0 is "none".
const pageBits = 10

// assessment is one scoring of a pair, as the tracker keeps it.
type assessment struct {
	risk, time, tca, dmin, tin float64
	model                      uint16
	flags                      uint8
}

// assessment flags
const (
	aHasTIn   = 1 << iota // tin is set: the pair is predicted to lose separation
	aLoS                  // in loss of separation at time
	aTCAAtEnd             // the TCA is clamped at the end of the prediction window
	aBelow                // (cur only) below MinRisk - Hysteresis since belowSince
)

// openRisk is one open risk (152 bytes).
type openRisk struct {
	a, b       uint32    // slots, a < b
	next, prev [2]uint32 // neighbours in the lists of a ([0]) and b ([1])
	id         [12]byte
	seq        uint32
	openedAt   float64
	belowSince float64
	cur        assessment // the latest assessment
	view       assessment // what the last event said
}

func (t *tracker) init(cfg *Config) {
	t.cfg = cfg
	t.open = make(map[uint64]uint32)
	t.byID = make(map[[12]byte]uint32)
	t.modelIdx = make(map[abi.ModelID]uint16)
}

func (t *tracker) len() int { return len(t.open) }

func (t *tracker) at(ref uint32) *openRisk {
	i := ref - 1
	return &t.pages[i>>pageBits][i&(1<<pageBits-1)]
}

func (t *tracker) alloc() uint32 {
	if n := len(t.free); n > 0 {
		ref := t.free[n-1]
		t.free = t.free[:n-1]
		return ref
	}
	if int(t.used)>>pageBits == len(t.pages) {
		t.pages = append(t.pages, make([]openRisk, 1<<pageBits))
	}
	t.used++
	return t.used
}

// modelRef interns a model id; workers call it once per scored batch.
func (t *tracker) modelRef(m abi.ModelID) uint16 {
	t.modelMu.Lock()
	defer t.modelMu.Unlock()
	if i, ok := t.modelIdx[m]; ok {
		return i
	}
	if len(t.models) == math.MaxUint16 {
		return 0 // 65,535 distinct models in one process: name the first
	}
	i := uint16(len(t.models))
	t.models = append(t.models, m)
	t.modelIdx[m] = i
	return i
}

func (t *tracker) model(i uint16) abi.ModelID {
	t.modelMu.Lock()
	defer t.modelMu.Unlock()
	return t.models[i]
}

func pairKey(a, b uint32) uint64 { return uint64(a)<<32 | uint64(b) }

// end is 0 when slot is r's first vehicle, 1 when its second.
func (r *openRisk) end(slot uint32) int {
	if r.a == slot {
		return 0
	}
	return 1
}

func (r *openRisk) other(slot uint32) uint32 {
	if r.a == slot {
		return r.b
	}
	return r.a
}

// link puts ref at the head of the lists of both its vehicles.
func (t *tracker) link(e *Engine, ref uint32) {
	r := t.at(ref)
	for k, s := range [2]uint32{r.a, r.b} {
		h := e.riskHead[s]
		r.next[k], r.prev[k] = h, 0
		if h != 0 {
			h := t.at(h)
			h.prev[h.end(s)] = ref
		}
		e.riskHead[s] = ref
	}
}

func (t *tracker) unlink(e *Engine, ref uint32) {
	r := t.at(ref)
	for k, s := range [2]uint32{r.a, r.b} {
		n, p := r.next[k], r.prev[k]
		if p == 0 {
			e.riskHead[s] = n
		} else {
			pr := t.at(p)
			pr.next[pr.end(s)] = n
		}
		if n != 0 {
			nr := t.at(n)
			nr.prev[nr.end(s)] = p
		}
	}
}

// appendOpenPairs adds the pairs of slot s's open risks that the query of
// s's box q did not return (the two boxes no longer overlap), so that they
// are scored and can resolve. The lower dirty slot takes a pair, as for grid
// candidates. The query returned exactly the partners whose stored box
// overlaps q, so that test replaces a search of the candidates (a vehicle in
// a crowd has hundreds of both).
func (t *tracker) appendOpenPairs(e *Engine, s uint32, q abi.Box, carried bool, pairs []abi.Pair) []abi.Pair {
	for ref := e.riskHead[s]; ref != 0; {
		r := t.at(ref)
		ref = r.next[r.end(s)]
		p := r.other(s)
		if b, ok := e.storedBox(p); ok && b.Overlaps(q) {
			continue // a candidate already
		}
		if p < s && (e.stamp[p] == e.tick || carried && e.stamp[p] == e.tick-1) {
			continue
		}
		pairs = append(pairs, orderedPair(s, p))
	}
	return pairs
}

func (t *tracker) assess(e *Engine, s *scored) assessment {
	va, vb := &e.veh[s.pair.A], &e.veh[s.pair.B]
	ref := math.Max(va.T, vb.T)
	a := assessment{risk: s.res.Risk, time: ref, tca: ref + s.res.TCA, dmin: s.res.DMin, model: s.model}
	if s.res.Flags&abi.ResultConflict != 0 {
		a.tin = ref + s.res.TIn
		a.flags |= aHasTIn
	}
	if s.res.Flags&abi.ResultLoS != 0 {
		a.flags |= aLoS
	}
	// A TCA at the end of the window only says "still closing when the
	// predictions end": it moves with every report and is not material.
	if s.res.TCA >= math.Min(va.T, vb.T)+t.cfg.Horizon-ref-1e-9 {
		a.flags |= aTCAAtEnd
	}
	return a
}

// openPair opens a risk for the scored pair s (not open, at or above MinRisk).
func (t *tracker) openPair(e *Engine, s *scored, evs []Event) []Event {
	cur := t.assess(e, s)
	ref := t.alloc()
	r := t.at(ref)
	*r = openRisk{a: s.pair.A, b: s.pair.B, cur: cur, view: cur, openedAt: cur.time}
	na, nb := e.names[s.pair.A], e.names[s.pair.B]
	r.id = riskKey(na, nb, e.veh[s.pair.A].T, e.veh[s.pair.B].T)
	t.open[pairKey(r.a, r.b)] = ref
	t.byID[r.id] = ref
	t.link(e, ref)
	return append(evs, t.event(e, r, EventOpened, ""))
}

// observe feeds one scored pair of the tick to the tracker, in pair order.
// The pair is open unless s.fresh (then admit decided to open it).
func (t *tracker) observe(e *Engine, s *scored, evs []Event) []Event {
	key := pairKey(s.pair.A, s.pair.B)
	ref := t.open[key]
	if ref == 0 {
		if s.res.Risk < t.cfg.MinRisk {
			return evs
		}
		return t.openPair(e, s, evs)
	}
	r := t.at(ref)
	cfg := t.cfg
	// A pair whose states are further apart in time than the horizon cannot
	// be assessed (the older prediction ends before the newer state begins):
	// the scorer answers 0, which means "unknown", not "separated". Keep the
	// last assessment until the stale vehicle reports again or expires; AIS
	// ships moored side by side report minutes apart.
	if ta, tb := e.veh[s.pair.A].T, e.veh[s.pair.B].T; math.Abs(ta-tb) > cfg.Horizon {
		return evs
	}
	cur := t.assess(e, s)
	below := r.cur.flags&aBelow != 0
	if cur.risk < cfg.MinRisk-cfg.Hysteresis {
		// Below the band: resolve once it has stayed there ResolveAfter
		// seconds of data time; until then it stays open (and its lower risk
		// is reported as an update, so nobody reads a stale high risk).
		if !below {
			r.belowSince = cur.time
		}
		cur.flags |= aBelow
		r.cur = cur
		if cur.time-r.belowSince >= cfg.ResolveAfter {
			return t.resolve(e, ref, ReasonSeparated, evs)
		}
	} else {
		r.cur = cur
	}
	// The time of closest approach of a pair already in loss of separation
	// says little (two moored ships a few metres apart with noisy speeds
	// have a TCA that jumps across the window at every report): for such a
	// pair only the risk and the model count as material.
	v := &r.view
	tcaMoved := math.Abs(cur.tca-v.tca) >= cfg.UpdateTCADelta && !(cur.flags&v.flags&aLoS != 0) &&
		!(cur.flags&v.flags&aTCAAtEnd != 0)
	if math.Abs(cur.risk-v.risk) >= cfg.UpdateRiskDelta || tcaMoved || cur.model != v.model {
		r.seq++
		r.view = r.cur
		r.view.flags &^= aBelow
		evs = append(evs, t.event(e, r, EventUpdated, ""))
	}
	return evs
}

// names returns the risk's vehicle ids, the lesser first whatever the
// arrival order.
func (e *Engine) riskNames(r *openRisk) (string, string) {
	na, nb := e.names[r.a], e.names[r.b]
	if nb < na {
		na, nb = nb, na
	}
	return na, nb
}

// event builds an event from the risk's latest assessment.
func (t *tracker) event(e *Engine, r *openRisk, typ EventType, reason string) Event {
	v := t.view(e, r, false)
	return Event{
		ID: eventID(v.ID, v.Seq), Type: typ, RiskID: v.ID, Seq: v.Seq,
		VehicleA: v.VehicleA, VehicleB: v.VehicleB,
		Risk: v.Risk, Time: v.Time, TCA: v.TCA, DMin: v.DMin, TIn: v.TIn,
		Reason: reason, OpenedAt: v.OpenedAt, Model: v.Model,
	}
}

// view returns the risk as Engine.Risks shows it (latest assessment), or
// with last = true as its last event said (a Snapshot).
func (t *tracker) view(e *Engine, r *openRisk, last bool) Risk {
	c := &r.cur
	if last {
		c = &r.view
	}
	va, vb := e.riskNames(r)
	out := Risk{
		ID:       riskIDString(r.id),
		VehicleA: va,
		VehicleB: vb,
		Risk:     c.risk,
		Time:     c.time,
		TCA:      c.tca,
		DMin:     c.dmin,
		OpenedAt: r.openedAt,
		Seq:      int(r.seq),
		Model:    t.model(c.model),
	}
	if c.flags&aHasTIn != 0 {
		tin := c.tin
		out.TIn = &tin
	}
	if r.cur.flags&aBelow != 0 {
		out.Resolving, out.ResolvingSince = true, r.belowSince
	}
	return out
}

func (t *tracker) resolve(e *Engine, ref uint32, reason string, evs []Event) []Event {
	r := t.at(ref)
	r.seq++
	evs = append(evs, t.event(e, r, EventResolved, reason))
	delete(t.open, pairKey(r.a, r.b))
	delete(t.byID, r.id)
	t.unlink(e, ref)
	*r = openRisk{}
	t.free = append(t.free, ref)
	return evs
}

// resolveGrouped resolves the open risks of slot with members of its own
// group (it has just joined it), in risk-id order: two vehicles that fly in
// one group are no longer a risk to each other.
func (t *tracker) resolveGrouped(e *Engine, slot uint32, evs []Event) []Event {
	refs := t.low[:0]
	for ref := e.riskHead[slot]; ref != 0; {
		r := t.at(ref)
		if e.sameGroup(r.a, r.b) {
			refs = append(refs, ref)
		}
		ref = r.next[r.end(slot)]
	}
	slices.SortFunc(refs, func(x, y uint32) int { return cmpID(t.at(x).id, t.at(y).id) })
	for _, ref := range refs {
		evs = t.resolve(e, ref, ReasonGrouped, evs)
	}
	t.low = refs[:0]
	return evs
}

// resolveVehicle resolves every open risk of slot, in risk-id order.
func (t *tracker) resolveVehicle(e *Engine, slot uint32, reason string, evs []Event) []Event {
	refs := t.low[:0]
	for ref := e.riskHead[slot]; ref != 0; {
		r := t.at(ref)
		refs = append(refs, ref)
		ref = r.next[r.end(slot)]
	}
	slices.SortFunc(refs, func(x, y uint32) int { return cmpID(t.at(x).id, t.at(y).id) })
	for _, ref := range refs {
		evs = t.resolve(e, ref, reason, evs)
	}
	t.low = refs[:0]
	return evs
}

func cmpID(a, b [12]byte) int {
	for i := range a {
		if c := cmp.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return 0
}

// riskIDString is the risk id as events carry it: "r-" and 24 hex digits.
func riskIDString(k [12]byte) string {
	var buf [26]byte
	buf[0], buf[1] = 'r', '-'
	hex.Encode(buf[2:], k[:])
	return string(buf[:])
}

// parseRiskID is the inverse of riskIDString.
func parseRiskID(s string) (k [12]byte, ok bool) {
	if len(s) != 26 || s[:2] != "r-" {
		return k, false
	}
	if _, err := hex.Decode(k[:], []byte(s[2:])); err != nil {
		return k, false
	}
	return k, riskIDString(k) == s // lower case only: ids compare as strings
}

// track runs the tracker over one tick's scored pairs, in pair order. When
// the fresh candidates (scored at or above MinRisk, no open risk) exceed the
// room left under MaxOpenRisks, the highest of them open (risk, then pair),
// then the rest displace open risks of lower current risk (resolved with
// reason "capacity"), and what remains is counted as untracked.
func (t *tracker) track(e *Engine, in []scored, evs []Event, ts *TickStats) []Event {
	fresh := t.fresh[:0]
	for i := range in {
		if in[i].fresh {
			fresh = append(fresh, int32(i))
		}
	}
	room := t.cfg.MaxOpenRisks - t.len()
	rejected := t.rejected[:0]
	if len(fresh) > room {
		rank := func(x, y int32) int { return byRiskDesc(in[x], in[y]) }
		rest := fresh
		if room > 0 {
			// Admit the highest `room`; the others wait for the pass below.
			slices.SortFunc(fresh, rank)
			rest = fresh[room:]
		}
		// Only a candidate above the lowest open risk can displace one: the
		// rest (at the bound, most of a dense tick) are counted at once.
		floor := t.lowestRisk()
		for _, i := range rest {
			in[i].fresh = false // not admitted in order
			if in[i].res.Risk > floor {
				rejected = append(rejected, i)
			} else {
				ts.Untracked++
			}
		}
		if room <= 0 {
			slices.SortFunc(rejected, rank)
		}
	}
	// Room for the events of the risks that open (a dense tick opens
	// hundreds of thousands: growing by appends was most of its time).
	evs = slices.Grow(evs, min(len(fresh), max(room, 0))+len(rejected))
	for i := range in {
		s := &in[i]
		if s.fresh {
			evs = t.openPair(e, s, evs)
		} else if t.open[pairKey(s.pair.A, s.pair.B)] != 0 {
			evs = t.observe(e, s, evs)
		}
	}
	if len(rejected) > 0 {
		evs = t.displace(e, in, rejected, evs, ts)
	}
	t.fresh, t.rejected = fresh, rejected // Engine.shrinkScratch empties them
	return evs
}

// lowestRisk is the lowest current risk of the open risks (+Inf with none).
func (t *tracker) lowestRisk() float64 {
	low := math.Inf(1)
	for ref := uint32(1); ref <= t.used; ref++ {
		if r := t.at(ref); r.b != 0 && r.cur.risk < low {
			low = r.cur.risk
		}
	}
	return low
}

// displace opens the rejected candidates (highest first) that room freed
// during the tick allows, then those whose risk is above the lowest open
// risks', resolving those; the rest are counted as untracked.
func (t *tracker) displace(e *Engine, in []scored, rejected []int32, evs []Event, ts *TickStats) []Event {
	i := 0
	for ; i < len(rejected) && t.len() < t.cfg.MaxOpenRisks; i++ {
		evs = t.openPair(e, &in[rejected[i]], evs)
	}
	if i < len(rejected) {
		top := in[rejected[i]].res.Risk
		low := t.low[:0]
		for ref := uint32(1); ref <= t.used; ref++ {
			if r := t.at(ref); r.b != 0 && r.cur.risk < top {
				low = append(low, ref)
			}
		}
		slices.SortFunc(low, func(x, y uint32) int {
			rx, ry := t.at(x), t.at(y)
			if c := cmp.Compare(rx.cur.risk, ry.cur.risk); c != 0 {
				return c
			}
			return cmp.Compare(pairKey(rx.a, rx.b), pairKey(ry.a, ry.b))
		})
		for _, ref := range low {
			if i == len(rejected) || !(in[rejected[i]].res.Risk > t.at(ref).cur.risk) {
				break
			}
			evs = t.resolve(e, ref, ReasonCapacity, evs)
			evs = t.openPair(e, &in[rejected[i]], evs)
			ts.Displaced++
			i++
		}
		t.low = low[:0]
	}
	ts.Untracked += len(rejected) - i
	return evs
}
