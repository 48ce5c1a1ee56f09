package engine

import (
	"math"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// This file holds what a compute node of a cluster needs beyond one node:
// it holds only the vehicles whose halos reach its tiles, and follows the
// cluster's data clock rather than its own vehicles' (see api/kafka/cluster).

// AdvanceClock makes the clock of the next tick at least t (Unix seconds)
// once that tick has applied its updates, as if a state of time t had been
// applied. A compute node sets it from the tick markers of the cluster's
// ingest, so that it expires vehicles and drops too-old states on the same
// clock as one engine holding the whole world. Safe from any goroutine.
func (e *Engine) AdvanceClock(t float64) {
	for {
		old := e.clockFloor.Load()
		if !(t > math.Float64frombits(old)) || e.clockFloor.CompareAndSwap(old, math.Float64bits(t)) {
			return
		}
	}
}

// Forget removes the vehicles named ids without any event, and drops their
// open risks silently: a compute node forgets a vehicle whose halo left all
// its tiles, because every pair of it is reported by another tile from then
// on. It returns how many were known. It waits for a running tick.
func (e *Engine) Forget(ids []string) int {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	var scratch []Event
	for _, id := range ids {
		slot, ok := e.ids.find(e.names, []byte(id))
		if !ok {
			continue
		}
		if e.riskHead[slot] != 0 {
			scratch = e.tr.resolveVehicle(e, slot, ReasonLost, scratch[:0])
		}
		e.release(slot)
		n++
	}
	return n
}

// release frees a vehicle's slot (its open risks are already resolved).
func (e *Engine) release(slot uint32) {
	if e.groupOf(slot) != 0 {
		e.leaveGroup(slot)
	}
	e.grid.Delete(slot)
	e.ids.remove(e.names, e.names[slot], slot)
	e.names[slot] = ""
	e.veh[slot] = abi.Vehicle{T: math.Inf(-1)}
	e.free = append(e.free, slot)
}

// Reset forgets every vehicle and open risk without any event and puts the
// clock back to zero: a compute node whose partitions changed rebuilds its
// state by replaying them from a common watermark, on their own clock. It
// waits for a running tick.
func (e *Engine) Reset() {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	var scratch []Event
	for slot, name := range e.names {
		if name == "" {
			continue
		}
		if e.riskHead[slot] != 0 {
			scratch = e.tr.resolveVehicle(e, uint32(slot), ReasonLost, scratch[:0])
		}
		e.release(uint32(slot))
	}
	e.clock, e.clockWall, e.clockAdvanced, e.swept = 0, 0, false, 0
	e.clockFloor.Store(0)
}
