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
	slot, ok := e.ids.find(e.names, []byte(id))
	if !ok {
		return VehicleState{}, false
	}
	return VehicleState{ID: id, State: e.veh[slot], Box: e.boxOf(slot)}, true
}

// boxOf recomputes a stored vehicle's grown swept box (the grid keeps it, the
// engine does not, to save 48 bytes a vehicle).
func (e *Engine) boxOf(slot uint32) abi.Box {
	m := e.models.Load()
	vs := e.veh[slot : slot+1]
	var bs [1]abi.Box
	_ = predict(m, e.params, vs, bs[:])
	return e.sweptBox(&vs[0], bs[0])
}

// Vehicles calls fn for every live vehicle, in id order, until fn returns false.
func (e *Engine) Vehicles(fn func(VehicleState) bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	slots := make([]uint32, 0, e.ids.len())
	for s, n := range e.names {
		if n != "" {
			slots = append(slots, uint32(s))
		}
	}
	sort.Slice(slots, func(i, j int) bool { return e.names[slots[i]] < e.names[slots[j]] })
	for _, slot := range slots {
		if !fn(VehicleState{ID: e.names[slot], State: e.veh[slot], Box: e.boxOf(slot)}) {
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
