package engine

import (
	"crypto/sha256"
	"math"
	"strconv"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/abi/risk"
)

// The risk event and the sink contract live in abi/risk, below the engine
// and the stores; these aliases keep the engine's names.
type (
	// EventType is risk.EventType.
	EventType = risk.EventType
	// Event is risk.Event: one step of a risk's life.
	Event = risk.Event
	// Sink is risk.Sink: receives the events of each tick.
	Sink = risk.Sink
	// SinkFunc is risk.SinkFunc.
	SinkFunc = risk.SinkFunc
)

// Risk event types and resolve reasons (risk.EventOpened...).
const (
	EventOpened     = risk.EventOpened
	EventUpdated    = risk.EventUpdated
	EventResolved   = risk.EventResolved
	ReasonSeparated = risk.ReasonSeparated
	ReasonLost      = risk.ReasonLost
	ReasonCapacity  = risk.ReasonCapacity
	ReasonGrouped   = risk.ReasonGrouped
)

// Risk is an open risk. Engine.Risks and Engine.Risk give its latest
// assessment (the last time the pair was scored), which may be newer than its
// last event: a risk that drifts by less than update_risk_delta emits no
// event, and one below the resolve threshold waits resolve_after before it
// resolves. A Snapshot holds what the last event said.
type Risk struct {
	ID       string   `json:"id"`
	VehicleA string   `json:"vehicle_a"`
	VehicleB string   `json:"vehicle_b"`
	Risk     float64  `json:"risk"`
	Time     float64  `json:"time"`
	TCA      float64  `json:"tca"`
	DMin     float64  `json:"dmin"`
	TIn      *float64 `json:"t_in,omitempty"`
	OpenedAt float64  `json:"opened_at"`
	// Seq is the sequence number of the risk's last event.
	Seq   int         `json:"seq"`
	Model abi.ModelID `json:"model"`
	// Resolving is set while the risk is below min_risk_level - hysteresis
	// and waits resolve_after (of data time, from ResolvingSince) before it
	// resolves; it resolves then unless it rises again.
	Resolving      bool    `json:"resolving"`
	ResolvingSince float64 `json:"resolving_since,omitempty"`
}

// riskKey is the risk id's 12 bytes, deterministic: the two vehicle ids in
// order and the times of the two states that opened it, in milliseconds. The
// same input therefore yields the same ids on every node and after every
// replay (DESIGN.md, "Scaling out"), and two episodes of one pair never share
// an id (their opening states differ).
func riskKey(a, b string, ta, tb float64) [12]byte {
	if b < a {
		a, b = b, a
		ta, tb = tb, ta
	}
	h := sha256.New()
	var buf [24]byte
	h.Write([]byte(a))
	h.Write([]byte{0})
	h.Write([]byte(b))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(buf[:0], int64(math.Round(ta*1000)), 10))
	h.Write([]byte{0})
	h.Write(strconv.AppendInt(buf[:0], int64(math.Round(tb*1000)), 10))
	var sum [32]byte
	return [12]byte(h.Sum(sum[:0])[:12])
}

// riskID is the risk id as events carry it: "r-" and 24 hex digits.
func riskID(a, b string, ta, tb float64) string { return riskIDString(riskKey(a, b, ta, tb)) }

func eventID(riskID string, seq int) string {
	return riskID + "." + strconv.Itoa(seq)
}
