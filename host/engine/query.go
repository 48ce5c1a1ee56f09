package engine

import (
	"sort"

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
	slot, ok := e.ids[id]
	if !ok {
		return VehicleState{}, false
	}
	return VehicleState{ID: id, State: e.veh[slot], Box: e.boxes[slot]}, true
}

// Vehicles calls fn for every live vehicle, in id order, until fn returns false.
func (e *Engine) Vehicles(fn func(VehicleState) bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	names := make([]string, 0, len(e.ids))
	for n := range e.ids {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		slot := e.ids[n]
		if !fn(VehicleState{ID: n, State: e.veh[slot], Box: e.boxes[slot]}) {
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
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
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
