package kafka

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SystemEventType is a step in a node's life, written to system-events.
type SystemEventType string

// System event types.
const (
	SystemStart          SystemEventType = "start"           // the node started
	SystemStop           SystemEventType = "stop"            // the node is stopping
	SystemModelActivated SystemEventType = "model_activated" // a predictor or scorer became active
	SystemPluginFailure  SystemEventType = "plugin_failure"  // a plugin trapped, timed out or returned malformed output
	SystemThrottlingOn   SystemEventType = "throttling_on"   // ingest is being slowed (engine saturated, 429s)
	SystemThrottlingOff  SystemEventType = "throttling_off"  // ingest is back to full speed
	// SystemCapacityReached: the engine reached collision_detection.max_open_risks
	// or compute.max_pairs_per_tick and keeps the highest risks, counting the rest.
	SystemCapacityReached SystemEventType = "capacity_reached"
	// SystemCapacityRecovered: the engine has worked within its bounds for
	// engine.Config.SaturationHold (10 s).
	SystemCapacityRecovered SystemEventType = "capacity_recovered"
)

// SystemEvent is one record of system-events, keyed by the node name.
type SystemEvent struct {
	// ID is unique per event: node, node start (Unix ms) and a sequence.
	ID   string          `json:"id"`
	Type SystemEventType `json:"type"`
	Node string          `json:"node"`
	// Time is the wall-clock Unix time of the event, seconds.
	Time float64 `json:"time"`
	// Detail says more (model id, plugin error, queue depth...).
	Detail map[string]any `json:"detail,omitempty"`
}

// SystemEvent writes a lifecycle event of this node to system-events. The
// rest of the node calls it (model activation, plugin failure, throttling);
// it does not block unless the producer's buffer is full.
func (p *Producer) SystemEvent(typ SystemEventType, detail map[string]any) {
	ev := SystemEvent{
		ID:     p.node + "." + p.boot + "." + strconv.FormatUint(p.seq.Add(1), 10),
		Type:   typ,
		Node:   p.node,
		Time:   float64(time.Now().UnixNano()) / 1e9,
		Detail: detail,
	}
	val, err := json.Marshal(&ev)
	if err != nil { // a detail that does not marshal: keep the event, drop the detail
		ev.Detail = map[string]any{"error": "detail not serialisable: " + err.Error()}
		val, _ = json.Marshal(&ev)
	}
	p.cl.Produce(p.ctx, &kgo.Record{
		Topic: p.topics.SystemEvents,
		Key:   []byte(p.node),
		Value: val,
		Headers: []kgo.RecordHeader{
			{Key: HeaderEventID, Value: []byte(ev.ID)},
			{Key: HeaderEventType, Value: []byte(typ)},
		},
	}, p.sysDone)
}
