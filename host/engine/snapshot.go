package engine

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// SnapshotVersion is the format version Export writes and Import accepts.
const SnapshotVersion = 1

// Snapshot is the exported state of an engine: its vehicles and open risks.
// Import of an Export restores both, so that a restarted or moved node goes on
// tracking the same risks under the same ids.
type Snapshot struct {
	Version  int             `json:"version"`
	Clock    float64         `json:"clock"`
	Vehicles []SnapshotState `json:"vehicles"`
	Risks    []Risk          `json:"risks"`
}

// SnapshotState is one vehicle in a Snapshot.
type SnapshotState struct {
	ID    string      `json:"id"`
	State abi.Vehicle `json:"state"`
	// Group is the vehicle's group (Update.Group), empty for none.
	Group string `json:"group,omitempty"`
}

// Export writes the vehicles (with the updates accepted but not yet applied)
// and the open risks as JSON.
func (e *Engine) Export(w io.Writer) error {
	return json.NewEncoder(w).Encode(e.Snapshot())
}

// Snapshot returns the vehicles (in id order) and open risks (in id order).
func (e *Engine) Snapshot() Snapshot {
	s := Snapshot{Version: SnapshotVersion}
	e.mu.RLock()
	s.Clock = e.clock
	for slot, n := range e.names {
		if n != "" {
			st := SnapshotState{ID: n, State: e.veh[slot]}
			if g := e.groupOf(uint32(slot)); g != 0 {
				st.Group = e.groups[g-1].name
			}
			s.Vehicles = append(s.Vehicles, st)
		}
	}
	for _, ref := range e.tr.byID {
		s.Risks = append(s.Risks, e.tr.view(e, e.tr.at(ref), true))
	}
	e.mu.RUnlock()
	// Updates accepted but not yet applied are part of what the engine has
	// acknowledged: fold them in, the newest state per vehicle winning.
	e.q.mu.Lock()
	if len(e.q.ups) > 0 {
		idx := make(map[string]int, len(s.Vehicles))
		for i, v := range s.Vehicles {
			idx[v.ID] = i
		}
		for i := range e.q.ups {
			u := &e.q.ups[i]
			id := string(e.q.ids[u.idOff : u.idOff+u.idLen])
			group := string(e.q.ids[u.idOff+u.idLen : u.idOff+u.idLen+u.gLen])
			if j, ok := idx[id]; !ok {
				idx[id] = len(s.Vehicles)
				s.Vehicles = append(s.Vehicles, SnapshotState{ID: id, State: u.v, Group: group})
			} else if u.v.T > s.Vehicles[j].State.T {
				s.Vehicles[j].State, s.Vehicles[j].Group = u.v, group
			}
		}
	}
	e.q.mu.Unlock()
	sort.Slice(s.Vehicles, func(i, j int) bool { return s.Vehicles[i].ID < s.Vehicles[j].ID })
	sort.Slice(s.Risks, func(i, j int) bool { return s.Risks[i].ID < s.Risks[j].ID })
	return s
}

// Import reads a snapshot written by Export and merges it: a vehicle is taken
// when it is unknown or its imported state is newer than the stored one, and a
// risk is restored (same id, same sequence, no event) when both its vehicles
// are present and the pair has no open risk. Nothing is changed when the
// snapshot is malformed.
func (e *Engine) Import(r io.Reader) error {
	var s Snapshot
	dec := json.NewDecoder(r)
	if err := dec.Decode(&s); err != nil {
		return fmt.Errorf("engine: import: %w", err)
	}
	return e.Restore(s)
}

// Restore merges s as Import does.
func (e *Engine) Restore(s Snapshot) error {
	if s.Version != SnapshotVersion {
		return fmt.Errorf("engine: import: snapshot version %d, want %d", s.Version, SnapshotVersion)
	}
	for i, v := range s.Vehicles {
		if v.ID == "" || len(v.ID) > 255 {
			return fmt.Errorf("engine: import: vehicles[%d]: id must have 1 to 255 bytes", i)
		}
		if len(v.Group) > 255 {
			return fmt.Errorf("engine: import: vehicles[%d] (%s): group must have at most 255 bytes", i, v.ID)
		}
		st := &v.State
		for _, x := range [...]float64{st.X, st.Y, st.Z, st.VX, st.VY, st.VZ, st.AX, st.AY, st.AZ, st.Alt, st.VRate, st.T,
			float64(st.Radius), float64(st.HSep), float64(st.VSep), float64(st.Sigma)} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("engine: import: vehicles[%d] (%s): non-finite state", i, v.ID)
			}
		}
		if st.Radius < 0 || st.HSep < 0 || st.VSep < 0 || st.Sigma < 0 {
			return fmt.Errorf("engine: import: vehicles[%d] (%s): negative radius, zone or sigma", i, v.ID)
		}
	}
	for i, r := range s.Risks {
		if r.ID == "" || r.VehicleA == "" || r.VehicleB == "" || r.VehicleA == r.VehicleB {
			return fmt.Errorf("engine: import: risks[%d]: id and two distinct vehicles required", i)
		}
		if _, ok := parseRiskID(r.ID); !ok {
			return fmt.Errorf("engine: import: risks[%d]: id %q is not a risk id (r- and 24 lower-case hex digits)", i, r.ID)
		}
	}
	m := e.models.Load()
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	defer e.publishStats()
	e.tick++
	e.dirty = e.dirty[:0]
	for _, v := range s.Vehicles {
		slot, ok := e.ids.find(e.names, []byte(v.ID))
		if !ok {
			slot = e.alloc(v.ID)
		} else if v.State.T <= e.veh[slot].T {
			continue
		}
		v.State.Key = uint64(slot)
		e.veh[slot] = v.State
		if v.Group != "" || e.group != nil {
			e.setGroup(slot, []byte(v.Group))
		}
		e.clock = math.Max(e.clock, v.State.T)
		e.dirty = append(e.dirty, slot)
	}
	e.grid.Grow(len(e.veh))
	var ts TickStats
	if len(e.dirty) > 0 {
		e.predictAndPlace(m, &ts)
	}
	for _, r := range s.Risks {
		a, okA := e.ids.find(e.names, []byte(r.VehicleA))
		b, okB := e.ids.find(e.names, []byte(r.VehicleB))
		if !okA || !okB {
			continue
		}
		if a > b {
			a, b = b, a
		}
		key := pairKey(a, b)
		id, _ := parseRiskID(r.ID)
		if e.tr.open[key] != 0 || e.tr.byID[id] != 0 || e.sameGroup(a, b) {
			continue
		}
		if e.tr.len() >= e.cfg.MaxOpenRisks {
			e.stats.untracked.Add(1)
			continue
		}
		as := assessment{risk: r.Risk, time: r.Time, tca: r.TCA, dmin: r.DMin, model: e.tr.modelRef(r.Model)}
		if r.TIn != nil {
			as.tin = *r.TIn
			as.flags |= aHasTIn
			if *r.TIn <= r.Time { // entered at or before the assessment
				as.flags |= aLoS
			}
		}
		ref := e.tr.alloc()
		o := e.tr.at(ref)
		*o = openRisk{a: a, b: b, id: id, seq: uint32(r.Seq), openedAt: r.OpenedAt, cur: as, view: as}
		if r.Resolving {
			o.cur.flags |= aBelow
			o.belowSince = r.ResolvingSince
		}
		e.tr.open[key] = ref
		e.tr.byID[id] = ref
		e.tr.link(e, ref)
	}
	return nil
}
