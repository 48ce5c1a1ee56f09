package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// hub is the one engine.Sink of the API: it fans each tick's events out to
// the live-stream subscribers. Publish runs on the engine's tick goroutine
// (under the engine's lock), so it never blocks and never calls the engine.
// It copies a tick's events once into a batch that every subscriber shares
// (read-only), and queues the batch to each subscriber it concerns. Each
// subscriber may hold at most buf queued events: a batch that would exceed
// that is dropped for that subscriber and counted (the client is told how
// many on its stream, and can re-read GET /api/v1/risks), except that an
// idle subscriber always takes the next batch, so one busy tick is never
// lost whole. See RATIONALE.md.
type hub struct {
	mu     sync.RWMutex
	subs   map[*subscriber]struct{}
	closed bool
	done   chan struct{}
	buf    int
	m      *metrics
}

// subscriber is one live-stream client.
type subscriber struct {
	ch      chan queued
	vehicle string       // only this vehicle's risks; "" for all
	pending atomic.Int64 // events queued and not yet written
	dropped atomic.Uint64
}

// queued is one tick's batch for one subscriber, with the number of its
// events that concern the subscriber.
type queued struct {
	b []streamEvent
	n int
}

// streamEvent is an event copied by value: the engine owns what TIn points
// to, so the value travels beside it.
type streamEvent struct {
	ev     engine.Event
	tin    float64
	hasTIn bool
}

// maxQueuedBatches bounds a subscriber's channel in ticks; the event bound
// (hub.buf) is the one that usually applies.
const maxQueuedBatches = 64

// maxOnStream bounds the risks an area stream remembers as already on it.
const maxOnStream = 100_000

func newHub(buf int, m *metrics) *hub {
	return &hub{subs: make(map[*subscriber]struct{}), done: make(chan struct{}), buf: buf, m: m}
}

// wants reports whether the subscriber's vehicle filter passes ev.
func (s *subscriber) wants(ev *engine.Event) bool {
	return s.vehicle == "" || ev.VehicleA == s.vehicle || ev.VehicleB == s.vehicle
}

// Publish implements engine.Sink. It allocates one batch per tick that has
// events and subscribers, whatever the number of subscribers.
func (h *hub) Publish(evs []engine.Event) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.subs) == 0 || len(evs) == 0 {
		return
	}
	var batch []streamEvent
	for s := range h.subs {
		n := len(evs)
		if s.vehicle != "" {
			n = 0
			for i := range evs {
				if s.wants(&evs[i]) {
					n++
				}
			}
			if n == 0 {
				continue
			}
		}
		if batch == nil {
			batch = make([]streamEvent, len(evs))
			for i := range evs {
				se := &batch[i]
				se.ev = evs[i]
				if t := evs[i].TIn; t != nil {
					se.tin, se.hasTIn = *t, true
					se.ev.TIn = nil
				}
			}
		}
		if p := s.pending.Load(); p > 0 && p+int64(n) > int64(h.buf) {
			s.drop(h, n)
			continue
		}
		s.pending.Add(int64(n))
		select {
		case s.ch <- queued{b: batch, n: n}:
		default:
			s.pending.Add(-int64(n))
			s.drop(h, n)
		}
	}
}

func (s *subscriber) drop(h *hub, n int) {
	s.dropped.Add(uint64(n))
	h.m.streamDropped.Add(float64(n))
}

// subscribe adds a subscriber; it fails when the hub is closed or full.
func (h *hub) subscribe(vehicle string, max int) (*subscriber, *Problem) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, problem(fiber.StatusServiceUnavailable, "server shutting down")
	}
	if len(h.subs) >= max {
		return nil, problem(fiber.StatusServiceUnavailable,
			"too many live-stream clients ("+strconv.Itoa(max)+"); retry later")
	}
	s := &subscriber{ch: make(chan queued, maxQueuedBatches), vehicle: vehicle}
	h.subs[s] = struct{}{}
	h.m.streams.Inc()
	return s, nil
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.m.streams.Dec()
	}
	h.mu.Unlock()
}

// count returns the number of subscribers.
func (h *hub) count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs)
}

// close ends every stream (their writers see done) and refuses new ones.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
}

var _ engine.Sink = (*hub)(nil)

// getRiskStream streams live risk events as Server-Sent Events.
//
//	GET /api/v1/risks/stream[?vehicle=ID][&bbox=minLon,minLat,maxLon,maxLat[&crs=wgs84|frame]][&snapshot=true]
//
// Each event is "id: <event id>", "event: opened|updated|resolved", "data:
// <the event as JSON>". With vehicle, only that vehicle's risks; with bbox,
// a risk enters the stream when either vehicle is inside the box at one of
// its events and then stays on it until it resolves. Comment lines
// (": ping") keep an idle stream open. When the client reads too slowly its
// queue (Options.StreamBuffer events; a whole tick's events always fit an
// empty queue) fills and further events are dropped for it; the stream then
// says so with "event: dropped", data {"dropped": total so far}, and the
// client should re-read GET /api/v1/risks. With snapshot=true the stream
// starts with "event: snapshot", data {"risks": [the open risks that pass the
// filters]}, taken after subscribing, so no event falls between it and the
// live events. A reconnecting EventSource (a Last-Event-ID header) gets the
// snapshot unless it asks snapshot=false: events are not replayed.
func (s *Server) getRiskStream(c *fiber.Ctx) error {
	vehicle := utils.CopyString(c.Query("vehicle"))
	snapshot := false
	if q := c.Query("snapshot"); q != "" {
		var err error
		if snapshot, err = strconv.ParseBool(q); err != nil {
			return badParam("snapshot", q, "want true or false")
		}
	} else if c.Get("Last-Event-ID") != "" {
		// A reconnecting EventSource: events are not replayed, so it gets
		// the current state instead of a silent gap.
		snapshot = true
	}
	var box *area
	if q := c.Query("bbox"); q != "" {
		var p *Problem
		if box, p = parseArea(q, c.Query("crs")); p != nil {
			return p
		}
	} else if crs := c.Query("crs"); crs != "" {
		return badParam("crs", crs, "crs needs a bbox")
	}
	fctx := c.Context()
	fctx.SetContentType("text/event-stream")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	if c.Method() == fiber.MethodHead {
		return nil // headers only: a stream writer would never be read
	}
	sub, p := s.hub.subscribe(vehicle, s.opts.MaxStreams)
	if p != nil {
		return p
	}
	// The writer runs on its own goroutine and may outlive this request's
	// context when the response is cut short, so it keeps the connection,
	// not fctx.
	conn := fctx.Conn()
	wt := s.opts.WriteTimeout
	fctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.hub.unsubscribe(sub)
		// Each flush gets its own write deadline: the server-wide one would
		// cut the stream after WriteTimeout, and without one a stalled
		// client would hold this goroutine for ever.
		flush := func() bool {
			if wt > 0 {
				_ = conn.SetWriteDeadline(time.Now().Add(wt))
			}
			return w.Flush() == nil
		}
		_, _ = w.WriteString("retry: 2000\n: connected\n\n")
		if snapshot {
			// Subscribed first, read second: no event falls between the
			// snapshot and the live events (some may repeat it; a client
			// keeps, per risk, the highest seq it has seen).
			s.writeSnapshot(w, vehicle, box)
		}
		if !flush() {
			return
		}
		hb := time.NewTicker(s.opts.StreamHeartbeat)
		defer hb.Stop()
		var (
			buf      bytes.Buffer
			enc      = json.NewEncoder(&buf)
			reported uint64
			onStream = map[string]struct{}{} // risks this client has seen (bbox filter)
		)
		write := func(se *streamEvent) {
			if !sub.wants(&se.ev) {
				return
			}
			ev := se.ev // the batch is shared: never write to it
			if box != nil {
				_, seen := onStream[ev.RiskID]
				if !seen && !s.riskInArea(&ev, box) {
					return
				}
				if ev.Type == engine.EventResolved {
					delete(onStream, ev.RiskID)
				} else {
					if len(onStream) >= maxOnStream {
						// Resolutions dropped for this client left entries
						// behind; forget them rather than grow for ever.
						clear(onStream)
					}
					onStream[ev.RiskID] = struct{}{}
				}
			}
			if se.hasTIn {
				tin := se.tin
				ev.TIn = &tin
			}
			buf.Reset()
			_ = enc.Encode(&ev) // ends with '\n'
			_, _ = w.WriteString("id: ")
			_, _ = w.WriteString(ev.ID)
			_, _ = w.WriteString("\nevent: ")
			_, _ = w.WriteString(string(ev.Type))
			_, _ = w.WriteString("\ndata: ")
			_, _ = w.Write(buf.Bytes())
			_ = w.WriteByte('\n')
			s.metrics.streamSent.Inc()
		}
		writeBatch := func(q queued) {
			for i := range q.b {
				write(&q.b[i])
			}
			sub.pending.Add(-int64(q.n))
		}
		for {
			select {
			case <-s.hub.done:
				return
			case q := <-sub.ch:
				writeBatch(q)
				// Write what else is queued before one flush.
				for more := true; more; {
					select {
					case q := <-sub.ch:
						writeBatch(q)
					default:
						more = false
					}
				}
				if d := sub.dropped.Load(); d != reported {
					reported = d
					_, _ = w.WriteString("event: dropped\ndata: {\"dropped\":")
					_, _ = w.WriteString(strconv.FormatUint(d, 10))
					_, _ = w.WriteString("}\n\n")
				}
				if !flush() {
					return
				}
			case <-hb.C:
				_, _ = w.WriteString(": ping\n\n")
				if !flush() {
					return
				}
			}
		}
	})
	return nil
}

// writeSnapshot writes the open risks that pass the stream's filters as one
// "snapshot" event: data {"risks": [...]}.
func (s *Server) writeSnapshot(w *bufio.Writer, vehicle string, box *area) {
	rs := s.eng.Risks()
	keep := rs[:0]
	for _, r := range rs {
		if vehicle != "" && r.VehicleA != vehicle && r.VehicleB != vehicle {
			continue
		}
		if box != nil && !s.riskInArea(&engine.Event{VehicleA: r.VehicleA, VehicleB: r.VehicleB}, box) {
			continue
		}
		keep = append(keep, r)
	}
	b, err := json.Marshal(struct {
		Risks []engine.Risk `json:"risks"`
	}{keep})
	if err != nil {
		return
	}
	_, _ = w.WriteString("event: snapshot\ndata: ")
	_, _ = w.Write(b)
	_, _ = w.WriteString("\n\n")
}

// riskInArea reports whether either vehicle of ev is inside box now.
func (s *Server) riskInArea(ev *engine.Event, box *area) bool {
	for _, id := range [2]string{ev.VehicleA, ev.VehicleB} {
		if v, ok := s.eng.Vehicle(id); ok && box.contains(s.opts.Frame, &v.State) {
			return true
		}
	}
	return false
}
