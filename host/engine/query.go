package engine

import (
	"slices"
	"strings"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// VehicleState is a vehicle's stored state with its name and grown swept box.
type VehicleState struct {
	ID    string
	State abi.Vehicle
	Box   abi.Box
}

// Vehicle returns the stored state of the vehicle named id.
func (e *Engine) Vehicle(id string) (VehicleState, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	slot, ok := e.ids.find(e.names, []byte(id))
	if !ok {
		return VehicleState{}, false
	}
	return VehicleState{ID: id, State: e.veh[slot], Box: e.boxOf(slot)}, true
}

// storedBox returns a vehicle's grown swept box as the last prediction left
// it (false when the grid refused it as invalid).
func (e *Engine) storedBox(slot uint32) (abi.Box, bool) {
	if e.groupOf(slot) != 0 {
		return e.memberBox(slot), true
	}
	b, ok := e.grid.Box(slot)
	return abi.Box(b), ok
}

// boxOf returns a stored vehicle's grown swept box, as the grid holds it.
func (e *Engine) boxOf(slot uint32) abi.Box {
	if e.groupOf(slot) != 0 {
		return e.memberBox(slot)
	}
	b, _ := e.grid.Box(slot)
	return abi.Box(b)
}

// Vehicles calls fn for every live vehicle, in id order, until fn returns
// false. It copies only the ids (and slots) under the read lock, sorts them
// without it, then reads the states a chunk at a time, calling fn outside the
// lock: a paged API query over a million vehicles holds up a tick for a few
// milliseconds at most and allocates 24 bytes a vehicle, not a copy of the
// state table. A vehicle that expires meanwhile is skipped.
func (e *Engine) Vehicles(fn func(VehicleState) bool) {
	type ref struct {
		id   string
		slot uint32
	}
	e.mu.RLock()
	refs := make([]ref, 0, e.ids.len())
	for s, n := range e.names {
		if n != "" {
			refs = append(refs, ref{n, uint32(s)})
		}
	}
	e.mu.RUnlock()
	slices.SortFunc(refs, func(a, b ref) int { return strings.Compare(a.id, b.id) })
	const chunk = 256
	var buf [chunk]VehicleState
	for lo := 0; lo < len(refs); lo += chunk {
		hi := min(lo+chunk, len(refs))
		n := 0
		e.mu.RLock()
		for _, r := range refs[lo:hi] {
			if int(r.slot) < len(e.names) && e.names[r.slot] == r.id {
				buf[n] = VehicleState{ID: r.id, State: e.veh[r.slot], Box: e.boxOf(r.slot)}
				n++
			}
		}
		e.mu.RUnlock()
		for i := 0; i < n; i++ {
			if !fn(buf[i]) {
				return
			}
		}
	}
}

// Risks returns the open risks ordered by id, each as it stands now (see
// Risk).
func (e *Engine) Risks() []Risk {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Risk, 0, e.tr.len())
	for _, ref := range e.tr.byID {
		out = append(out, e.tr.view(e, e.tr.at(ref), false))
	}
	slices.SortFunc(out, func(a, b Risk) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Risk returns the open risk with the given id as it stands now: its latest
// assessment (risk, TCA, distance of the last tick that scored the pair),
// which may differ from its last event's by less than the update deltas, and
// Resolving while it waits below the band to resolve.
func (e *Engine) Risk(id string) (Risk, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	k, ok := parseRiskID(id)
	if !ok {
		return Risk{}, false
	}
	ref, ok := e.tr.byID[k]
	if !ok {
		return Risk{}, false
	}
	return e.tr.view(e, e.tr.at(ref), false), true
}
