package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// hub is the one engine.Sink of the API: it keeps the recent risk events in
// a ring that every live-stream subscriber reads at its own pace. Publish
// runs on the engine's tick goroutine, so it never blocks and never calls the
// engine: it copies a tick's events once into a batch (numbered with stream
// positions), appends it to the ring, drops the oldest batches beyond the
// ring's bound (Options.StreamBuffer events) and wakes the subscribers. A
// subscriber that falls more than the ring behind loses the events it did not
// read in time; its writer counts them and tells the client which positions
// are missing. A reconnecting client resumes after its Last-Event-ID from the
// ring. See RATIONALE.md.
type hub struct {
	mu      sync.RWMutex
	ring    []ringBatch // oldest first; ring[i].evs never change once added
	held    int         // events in ring
	max     int         // Options.StreamBuffer
	base    uint64      // stream position of this server's first event
	next    uint64      // stream position of the next event
	subs    map[*subscriber]struct{}
	closed  bool
	done    chan struct{}
	m       *metrics
	dropped atomic.Uint64 // events not delivered, over every subscriber
}

// ringBatch is one tick's events; evs[i] is at stream position first+i.
type ringBatch struct {
	first uint64
	evs   []streamEvent
}

// subscriber is one live-stream client.
type subscriber struct {
	wake    chan struct{} // capacity 1: Publish signals new events
	vehicle string        // only this vehicle's risks; "" for all
}

// streamEvent is an event copied by value: the engine owns what TIn points
// to, so the value travels beside it.
type streamEvent struct {
	ev     engine.Event
	tin    float64
	hasTIn bool
}

// maxOnStream bounds the risks an area stream remembers as already on it.
const maxOnStream = 100_000

// newHub numbers the stream from base (the server's start time in Unix
// nanoseconds, so that positions keep growing across restarts and a client's
// Last-Event-ID from an earlier process is never mistaken for a later event).
func newHub(max int, base uint64, m *metrics) *hub {
	return &hub{subs: make(map[*subscriber]struct{}), done: make(chan struct{}), max: max, base: base, next: base, m: m}
}

// wants reports whether the subscriber's vehicle filter passes ev.
func (s *subscriber) wants(ev *engine.Event) bool {
	return s.vehicle == "" || ev.VehicleA == s.vehicle || ev.VehicleB == s.vehicle
}

// Publish implements engine.Sink. It allocates one batch per tick that has
// events, whatever the number of subscribers; a tick with more events than
// the ring holds keeps only its last Options.StreamBuffer.
func (h *hub) Publish(evs []engine.Event) {
	if len(evs) == 0 {
		return
	}
	h.mu.Lock()
	first := h.next
	h.next += uint64(len(evs))
	if len(evs) > h.max {
		first += uint64(len(evs) - h.max)
		evs = evs[len(evs)-h.max:]
	}
	batch := make([]streamEvent, len(evs))
	for i := range evs {
		se := &batch[i]
		se.ev = evs[i]
		if t := evs[i].TIn; t != nil {
			se.tin, se.hasTIn = *t, true
			se.ev.TIn = nil
		}
	}
	h.ring = append(h.ring, ringBatch{first: first, evs: batch})
	h.held += len(batch)
	drop := 0
	for h.held > h.max {
		h.held -= len(h.ring[drop].evs)
		h.ring[drop] = ringBatch{}
		drop++
	}
	if drop > 0 {
		// Shift rather than reslice so the array does not creep forward
		// and keep growing.
		n := copy(h.ring, h.ring[drop:])
		clear(h.ring[n:])
		h.ring = h.ring[:n]
	}
	for s := range h.subs {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	h.mu.Unlock()
}

// read appends to out the ring's batches that hold positions after pos (at
// most max of them) and returns the oldest position the ring still holds
// and the next position to be published.
func (h *hub) read(pos uint64, out []ringBatch, max int) ([]ringBatch, uint64, uint64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	oldest := h.next
	if len(h.ring) > 0 {
		oldest = h.ring[0].first
	}
	i := sort.Search(len(h.ring), func(i int) bool {
		b := &h.ring[i]
		return b.first+uint64(len(b.evs)) > pos+1
	})
	for ; i < len(h.ring) && len(out) < max; i++ {
		out = append(out, h.ring[i])
	}
	return out, oldest, h.next
}

// position returns the last position published (the live end of the stream).
func (h *hub) position() uint64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.next - 1
}

// lost counts events a subscriber did not get.
func (h *hub) lost(n uint64) {
	h.dropped.Add(n)
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
	s := &subscriber{wake: make(chan struct{}, 1), vehicle: vehicle}
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
//	GET /api/v1/risks/stream[?vehicle=ID][&bbox=minLon,minLat,maxLon,maxLat[&crs=wgs84|frame]]
//	    [&snapshot=true][&last_event_id=POS]
//
// Each event is "id: <stream position>", "event: opened|updated|resolved",
// "data: <the event as JSON>" (its own id is in the data). Positions are
// numbers that only grow, also across restarts. With vehicle, only that
// vehicle's risks; with bbox, a risk enters the stream when either vehicle is
// inside the box at one of its events and then stays on it until it
// resolves. Comment lines (": ping") keep an idle stream open.
//
// The server keeps the last api.stream.buffer events. A reconnecting client
// (Last-Event-ID header, or last_event_id) gets every event after that
// position from them, in order. A client that reads so slowly that it falls
// more than the buffer behind (or reconnects after the buffer moved past its
// position) loses those events: the stream says so with "event: dropped",
// data {"dropped": events lost on this stream so far, "lost": this time,
// "from": first position lost, "to": last position lost}, and goes on (with
// a fresh snapshot when it started with one); the client should re-read GET
// /api/v1/risks. With snapshot=true the stream starts with "event: snapshot",
// data {"risks": [the open risks that pass the filters, highest first, at
// most api.max_limit], "total": N, "truncated": bool}, taken after
// subscribing, so no event falls between it and the live events. A
// reconnecting client whose position is no longer held gets the snapshot
// unless it asks snapshot=false.
func (s *Server) getRiskStream(c *fiber.Ctx) error {
	vehicle := utils.CopyString(c.Query("vehicle"))
	snapshot, askedSnapshot := false, false
	if q := c.Query("snapshot"); q != "" {
		var err error
		if snapshot, err = strconv.ParseBool(q); err != nil {
			return badParam("snapshot", q, "want true or false")
		}
		askedSnapshot = true
	}
	resumeParam, resumeQ := "last_event_id", c.Query("last_event_id")
	if resumeQ == "" {
		resumeParam, resumeQ = "Last-Event-ID", c.Get("Last-Event-ID")
	}
	var (
		resume    uint64
		hasResume bool
	)
	if resumeQ != "" {
		n, err := strconv.ParseUint(strings.TrimSpace(resumeQ), 10, 64)
		if err == nil {
			resume, hasResume = n, true
		} else if resumeParam == "last_event_id" {
			return badParam("last_event_id", resumeQ, "want the id (a stream position) of the last event received")
		} else if !askedSnapshot {
			// An EventSource that last saw an older server's event id: the
			// gap cannot be replayed, so it gets the current state.
			snapshot = true
		}
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
	// Where the stream starts: after the client's last event, or live.
	pos := s.hub.position()
	// After a gap in a resumed stream the client gets the current state,
	// unless it asked for no snapshot.
	resnap := snapshot || (hasResume && !askedSnapshot)
	if hasResume {
		switch {
		case resume > pos:
			// Not a position this server gave (a restart with a clock
			// behind, or a made-up id): the current state, then live.
			snapshot = resnap
		case resume < s.hub.base-1:
			// A position of an earlier server: what happened in between
			// is unknown, so the current state, then every event of this
			// server still held.
			snapshot = resnap
			pos = s.hub.base - 1
		default:
			pos = resume
		}
	}
	// The writer runs on its own goroutine and may outlive this request's
	// context when the response is cut short, so it keeps the connection,
	// not fctx.
	conn := fctx.Conn()
	wt := s.opts.WriteTimeout
	fctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		defer s.hub.unsubscribe(sub)
		// The write deadline measures progress, not the whole response: it
		// is pushed forward while events are written (at most every wt/4),
		// so a burst of a million events to a client that keeps reading is
		// never cut mid-write, and a client that stops reading is dropped
		// after wt.
		var extended time.Time
		extend := func() {
			if wt <= 0 {
				return
			}
			if now := time.Now(); now.Sub(extended) >= wt/4 {
				extended = now
				_ = conn.SetWriteDeadline(now.Add(wt))
			}
		}
		flush := func() bool {
			extended = time.Time{}
			extend()
			return w.Flush() == nil
		}
		_, _ = w.WriteString("retry: 2000\n: connected\n\n")
		var (
			buf      bytes.Buffer
			enc      = json.NewEncoder(&buf)
			dropped  uint64 // events this client did not get
			flushed  = pos  // position delivered by the last successful flush
			batches  []ringBatch
			onStream = map[string]struct{}{} // risks this client has seen (bbox filter)
		)
		if snapshot {
			// Subscribed first, read second: no event falls between the
			// snapshot and the live events (some may repeat it; a client
			// keeps, per risk, the highest seq it has seen).
			s.writeSnapshot(w, vehicle, box)
		}
		if !flush() {
			return
		}
		write := func(se *streamEvent, at uint64) {
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
						// Resolutions lost for this client left entries
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
			extend()
			buf.Reset()
			_ = enc.Encode(&ev) // ends with '\n'
			var num [20]byte
			_, _ = w.WriteString("id: ")
			_, _ = w.Write(strconv.AppendUint(num[:0], at, 10))
			_, _ = w.WriteString("\nevent: ")
			_, _ = w.WriteString(string(ev.Type))
			_, _ = w.WriteString("\ndata: ")
			_, _ = w.Write(buf.Bytes())
			_ = w.WriteByte('\n')
			s.metrics.streamSent.Inc()
		}
		// catchUp writes every held event after pos; false when the client
		// is gone.
		catchUp := func() bool {
			for {
				var oldest, next uint64
				batches, oldest, next = s.hub.read(pos, batches[:0], 64)
				if oldest > pos+1 {
					// The ring moved past this client: say what it lost.
					lost := oldest - pos - 1
					dropped += lost
					s.hub.lost(lost)
					var num [20]byte
					_, _ = w.WriteString("event: dropped\ndata: {\"dropped\":")
					_, _ = w.Write(strconv.AppendUint(num[:0], dropped, 10))
					_, _ = w.WriteString(",\"lost\":")
					_, _ = w.Write(strconv.AppendUint(num[:0], lost, 10))
					_, _ = w.WriteString(",\"from\":")
					_, _ = w.Write(strconv.AppendUint(num[:0], pos+1, 10))
					_, _ = w.WriteString(",\"to\":")
					_, _ = w.Write(strconv.AppendUint(num[:0], oldest-1, 10))
					_, _ = w.WriteString("}\n\n")
					pos = oldest - 1
					if resnap {
						s.writeSnapshot(w, vehicle, box)
					}
				}
				for _, b := range batches {
					for i := range b.evs {
						if at := b.first + uint64(i); at > pos {
							write(&b.evs[i], at)
							pos = at
						}
					}
				}
				clear(batches) // do not pin evicted batches while idle
				if !flush() {
					// Cut mid-write: what was written since the last flush
					// may not have arrived. The client can resume after its
					// last event id from the ring.
					if pos > flushed {
						s.hub.lost(pos - flushed)
					}
					return false
				}
				flushed = pos
				if pos+1 >= next {
					return true
				}
			}
		}
		if !catchUp() {
			return
		}
		hb := time.NewTicker(s.opts.StreamHeartbeat)
		defer hb.Stop()
		for {
			select {
			case <-s.hub.done:
				return
			case <-sub.wake:
				if !catchUp() {
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
// "snapshot" event: data {"risks": [...], "total": N, "truncated": bool},
// the highest risks first and at most api.max_limit of them.
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
	total := len(keep)
	if total > s.opts.MaxLimit {
		slices.SortFunc(keep, func(a, b engine.Risk) int { return byRiskThenID(a.Risk, a.ID, b.Risk, b.ID) })
		keep = keep[:s.opts.MaxLimit]
	}
	b, err := json.Marshal(struct {
		Risks     []engine.Risk `json:"risks"`
		Total     int           `json:"total"`
		Truncated bool          `json:"truncated"`
	}{keep, total, total > len(keep)})
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
