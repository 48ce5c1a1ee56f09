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

// boxOf returns a stored vehicle's grown swept box, as the grid holds it.
func (e *Engine) boxOf(slot uint32) abi.Box {
	b, _ := e.grid.Box(slot)
	return abi.Box(b)
}

// Vehicles calls fn for every live vehicle, in id order, until fn returns
// false. It copies the states under the read lock and calls fn without it, so
// a slow consumer (a paged API query over a million vehicles) never holds up a
// tick for longer than the copy.
func (e *Engine) Vehicles(fn func(VehicleState) bool) {
	e.mu.RLock()
	all := make([]VehicleState, 0, e.ids.len())
	for s, n := range e.names {
		if n != "" {
			all = append(all, VehicleState{ID: n, State: e.veh[s], Box: e.boxOf(uint32(s))})
		}
	}
	e.mu.RUnlock()
	slices.SortFunc(all, func(a, b VehicleState) int { return strings.Compare(a.ID, b.ID) })
	for i := range all {
		if !fn(all[i]) {
			return
		}
	}
}

// Risks returns the open risks ordered by id.
func (e *Engine) Risks() []Risk {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]Risk, 0, len(e.tr.byID))
	for _, r := range e.tr.byID {
		out = append(out, r.view)
	}
	slices.SortFunc(out, func(a, b Risk) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Risk returns the open risk with the given id.
func (e *Engine) Risk(id string) (Risk, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, ok := e.tr.byID[id]
	if !ok {
		return Risk{}, false
	}
	return r.view, true
}
