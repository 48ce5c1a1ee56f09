// Package risk holds the risk event that the engine emits and every consumer
// of it keeps or forwards (history stores, the API's stream, Kafka, Redis),
// and the Sink contract through which the engine hands events over.
//
// It sits below the engine and the stores so that store/* never imports the
// engine (see abi/RATIONALE.md, "Why does the risk event live in abi/risk?").
// Like abi, it imports nothing of this module but abi.
package risk

import (
	"errors"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// ErrCursor is a Query.After that the store did not issue; every store's
// cursor error matches it.
var ErrCursor = errors.New("risk: invalid cursor")

// EventType is the lifecycle step a risk event reports.
type EventType string

// Risk event types.
const (
	EventOpened   EventType = "opened"
	EventUpdated  EventType = "updated"
	EventResolved EventType = "resolved"
)

// Reasons a risk resolves.
const (
	ReasonSeparated = "separated"
	ReasonLost      = "lost"
	// ReasonCapacity: collision_detection.max_open_risks was reached and a
	// higher risk took this one's place; it is no longer tracked.
	ReasonCapacity = "capacity"
	// ReasonGrouped: the two vehicles now fly in one group, whose internal
	// pairs are not risks.
	ReasonGrouped = "grouped"
)

// Event is one step of a risk's life. Its ID is deterministic (risk id and
// sequence number), so a consumer that sees an event twice after a redelivery
// can drop the copy.
type Event struct {
	ID       string    `json:"id"`
	Type     EventType `json:"type"`
	RiskID   string    `json:"risk_id"`
	Seq      int       `json:"seq"`
	VehicleA string    `json:"vehicle_a"`
	VehicleB string    `json:"vehicle_b"`
	// Risk in [0, 1] from the scorer.
	Risk float64 `json:"risk"`
	// Time is the data time of the assessment: the later of the two states.
	Time float64 `json:"time"`
	// TCA is the predicted time of closest approach, Unix seconds.
	TCA float64 `json:"tca"`
	// DMin is the predicted 3D distance at TCA, metres.
	DMin float64 `json:"dmin"`
	// TIn is the predicted entry into loss of separation, Unix seconds; absent
	// when the pair is not predicted to lose separation.
	TIn *float64 `json:"t_in,omitempty"`
	// Reason says why a risk resolved (separated, lost, capacity, grouped).
	Reason string `json:"reason,omitempty"`
	// OpenedAt is the data time the risk opened.
	OpenedAt float64 `json:"opened_at"`
	// Model produced the assessment.
	Model abi.ModelID `json:"model"`
	// Emitted is the wall-clock Unix time the event left the engine.
	Emitted float64 `json:"emitted"`
}

// Sink receives the events of each tick, in a deterministic order, on the
// engine's goroutine. It must not block for long and must not keep evs (the
// engine reuses the slice and what TIn points to).
type Sink interface {
	Publish(evs []Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(evs []Event)

// Publish calls f.
func (f SinkFunc) Publish(evs []Event) { f(evs) }

var _ Sink = SinkFunc(nil)

// Query selects risk events from a history store.
type Query struct {
	// From and To bound the data time (Event.Time) to [From, To); a zero
	// bound is open.
	From, To float64
	// Vehicle, when not empty, keeps the events of that vehicle's risks.
	Vehicle string
	// MinRisk keeps events whose Risk is at least MinRisk (0 keeps all).
	MinRisk float64
	// After is the cursor of a previous Page (Page.Next); "" starts at the
	// oldest match.
	After string
	// Limit caps the page; the store's own cap applies when it is <= 0.
	Limit int
}

// Page is one page of a Query's answer, oldest first by data time.
type Page struct {
	Events []Event `json:"events"`
	// Next is the cursor of the following page, "" when this is the last.
	Next string `json:"next,omitempty"`
}
