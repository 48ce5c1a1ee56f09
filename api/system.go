package api

import (
	"bytes"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
)

// rateMeter turns the engine's monotonic counters into rates over a window
// of 5 to 10 s, computed when asked (no goroutine to own).
type rateMeter struct {
	mu        sync.Mutex
	prev, cur rateSample
}

type rateSample struct {
	t                                time.Time
	accepted, applied, pairs, events uint64
}

// rates are per-second rates over Window seconds.
type rates struct {
	Ingest     float64 `json:"ingest_per_s"`       // updates accepted (every ingest path)
	Applied    float64 `json:"applied_per_s"`      // updates applied to the state table
	Pairs      float64 `json:"pairs_scored_per_s"` // detection: pairs scored
	RiskEvents float64 `json:"risk_events_per_s"`  // opened + updated + resolved
	Window     float64 `json:"window_s"`           // seconds the rates are measured over
}

const rateWindow = 5 * time.Second

func sampleOf(t time.Time, st *engine.Stats) rateSample {
	return rateSample{t: t, accepted: st.Accepted, applied: st.Applied, pairs: st.PairsScored,
		events: st.Opened + st.Updated + st.Resolved}
}

func (r *rateMeter) init(now time.Time, st engine.Stats) {
	r.prev = sampleOf(now, &st)
	r.cur = r.prev
}

func (r *rateMeter) observe(now time.Time, st *engine.Stats) rates {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := sampleOf(now, st)
	if now.Sub(r.cur.t) >= rateWindow {
		r.prev, r.cur = r.cur, s
	}
	dt := now.Sub(r.prev.t).Seconds()
	if dt <= 0 {
		return rates{}
	}
	per := func(a, b uint64) float64 { return float64(a-b) / dt }
	return rates{
		Ingest: per(s.accepted, r.prev.accepted), Applied: per(s.applied, r.prev.applied),
		Pairs: per(s.pairs, r.prev.pairs), RiskEvents: per(s.events, r.prev.events), Window: dt,
	}
}

// status is the /system/status answer.
type status struct {
	Uptime     float64   `json:"uptime_s"`
	StartedAt  time.Time `json:"started_at"`
	Vehicles   int       `json:"vehicles"`
	OpenRisks  int       `json:"open_risks"`
	QueueDepth int       `json:"queue_depth"`
	Rates      rates     `json:"rates"`
	Totals     struct {
		Accepted      uint64 `json:"accepted"`
		Applied       uint64 `json:"applied"`
		Stale         uint64 `json:"stale"`
		Duplicates    uint64 `json:"duplicates"`
		Expired       uint64 `json:"expired"`
		Ticks         uint64 `json:"ticks"`
		PairsScored   uint64 `json:"pairs_scored"`
		PredictErrors uint64 `json:"predict_errors"`
		Opened        uint64 `json:"opened"`
		Updated       uint64 `json:"updated"`
		Resolved      uint64 `json:"resolved"`
	} `json:"totals"`
	LastTickMS float64 `json:"last_tick_ms"`
	// TickPhases is the time spent in each tick phase since start, seconds
	// (apply, predict, score, track, adjust): its change over the change of
	// totals.ticks is the mean phase time per tick.
	TickPhases map[string]float64 `json:"tick_phase_seconds"`
	DataClock  float64            `json:"data_clock"` // newest state time applied, Unix s
	Grid       struct {
		CellSize  float64 `json:"cell_size_m"`
		Cells     int     `json:"cells"`
		Levels    int     `json:"levels"`
		Occupancy float64 `json:"occupancy"`
		Oversize  int     `json:"oversize"`
		Resizes   uint64  `json:"resizes"`
	} `json:"grid"`
	Models struct {
		Predictor         abi.ModelID   `json:"predictor"`
		Scorer            abi.ModelID   `json:"scorer"`
		PredictorFallback []abi.ModelID `json:"predictor_fallback"`
		ScorerFallback    []abi.ModelID `json:"scorer_fallback"`
	} `json:"models"`
	// Limits says whether the engine works within its configured bounds.
	Limits struct {
		// Saturated is set while the engine drops work to its bounds (and
		// for engine.Config.SaturationHold after), since SaturatedSince.
		Saturated      bool       `json:"saturated"`
		SaturatedSince *time.Time `json:"saturated_since,omitempty"`
		MaxOpenRisks   int        `json:"max_open_risks"`
		// Untracked counts assessments at or above min_risk_level that
		// opened no risk: max_open_risks was reached.
		Untracked uint64 `json:"untracked"`
		// Displaced counts open risks resolved ("capacity") for higher ones.
		Displaced       uint64 `json:"displaced"`
		MaxPairsPerTick int    `json:"max_pairs_per_tick"`
		// Deferred counts updated vehicles whose scoring went to the next
		// tick: max_pairs_per_tick was reached.
		Deferred uint64 `json:"deferred"`
	} `json:"limits"`
	Streams int `json:"stream_clients"`
	// Tracks says whether GET /api/v1/vehicles/{id}/track is served (a
	// store keeps positions), so that clients ask only then.
	Tracks bool `json:"tracks"`
	// StreamDropped counts the live-stream events clients did not get
	// (fell behind api.stream.buffer, or the connection broke mid-write).
	StreamDropped uint64 `json:"stream_events_dropped"`
	// Plugins summarises the plugin registry (active models, shadow,
	// automatic rollbacks) when Options.Plugins is set.
	Plugins any `json:"plugins,omitempty"`
	// Messaging is the Kafka edge's state, when Kafka is configured.
	Messaging any `json:"messaging,omitempty"`
	// Storage is the durable stores' state (reachable, queued writes,
	// spool), when a store is configured.
	Storage any `json:"storage,omitempty"`
	// Security says whether requests are authenticated, and the unsafe
	// settings the node runs with.
	Security struct {
		Authentication string   `json:"authentication"` // "jwt" or "none"
		Warnings       []string `json:"warnings"`
	} `json:"security"`
}

// getStatus answers the node's state: uptime, vehicles, open risks, ingest
// and detection rates, grid and models.
//
//	GET /system/status
func (s *Server) getStatus(c *fiber.Ctx) error {
	now := s.opts.Now()
	st := s.eng.Stats()
	var out status
	out.Uptime = now.Sub(s.started).Seconds()
	out.StartedAt = s.started.UTC()
	out.Vehicles, out.OpenRisks, out.QueueDepth = st.Vehicles, st.OpenRisks, st.Pending
	out.Rates = s.rates.observe(now, &st)
	t := &out.Totals
	t.Accepted, t.Applied, t.Stale, t.Duplicates, t.Expired = st.Accepted, st.Applied, st.Stale, st.Duplicates, st.Expired
	t.Ticks, t.PairsScored, t.PredictErrors = st.Ticks, st.PairsScored, st.PredictErrors
	t.Opened, t.Updated, t.Resolved = st.Opened, st.Updated, st.Resolved
	l := &out.Limits
	l.Saturated, l.MaxOpenRisks, l.Untracked, l.Displaced = st.Saturated, st.MaxOpenRisks, st.Untracked, st.Displaced
	l.MaxPairsPerTick, l.Deferred = st.MaxPairsPerTick, st.Deferred
	if st.Saturated {
		since := st.SaturatedSince.UTC()
		l.SaturatedSince = &since
	}
	out.LastTickMS = float64(st.LastTick) / 1e6
	out.TickPhases = make(map[string]float64, len(tickPhases))
	for i, name := range tickPhases {
		out.TickPhases[name] = st.PhaseTotals[i].Seconds()
	}
	out.DataClock = st.Clock
	g := &out.Grid
	g.CellSize, g.Cells, g.Levels, g.Occupancy, g.Oversize, g.Resizes =
		st.Grid.CellSize, st.Grid.Cells, st.Grid.Levels, st.Grid.Occupancy, st.Grid.Oversize, st.Grid.Resizes
	m := s.eng.Models()
	if m.Predictor != nil {
		out.Models.Predictor = m.Predictor.Model()
	}
	if m.Scorer != nil {
		out.Models.Scorer = m.Scorer.Model()
	}
	out.Models.PredictorFallback = make([]abi.ModelID, 0, len(m.PredictorFallback))
	for _, p := range m.PredictorFallback {
		out.Models.PredictorFallback = append(out.Models.PredictorFallback, p.Model())
	}
	out.Models.ScorerFallback = make([]abi.ModelID, 0, len(m.ScorerFallback))
	for _, p := range m.ScorerFallback {
		out.Models.ScorerFallback = append(out.Models.ScorerFallback, p.Model())
	}
	out.Streams = s.hub.count()
	out.Tracks = s.opts.Tracks != nil
	out.StreamDropped = s.hub.dropped.Load()
	if s.opts.Plugins != nil {
		out.Plugins = s.opts.Plugins.ModelStatus()
	}
	if s.opts.Messaging != nil {
		out.Messaging = s.opts.Messaging()
	}
	if s.opts.Storage != nil {
		out.Storage = s.opts.Storage()
	}
	out.Security.Authentication = "none"
	if s.opts.Auth != nil {
		out.Security.Authentication = "jwt"
	}
	out.Security.Warnings = s.opts.Warnings
	if out.Security.Warnings == nil {
		out.Security.Warnings = []string{}
	}
	return c.JSON(&out)
}

// getVersion answers the build and the plugin ABI version.
//
//	GET /system/version
func (s *Server) getVersion(c *fiber.Ctx) error {
	return c.JSON(struct {
		Version
		Go  string `json:"go"`
		ABI string `json:"abi"`
	}{s.opts.Version, runtime.Version(), abiVersion})
}

var abiVersion = strconv.Itoa(abi.VersionMajor) + "." + strconv.Itoa(abi.VersionMinor)

// admin checks that the admin endpoints are enabled and the client is
// allowed (Options.AdminEnabled, Options.AdminAllow).
func (s *Server) admin(c *fiber.Ctx) *Problem {
	if !s.opts.AdminEnabled {
		return problem(fiber.StatusForbidden, "admin endpoints are disabled (api.admin.enabled)")
	}
	if ip, ok := netip.AddrFromSlice(c.Context().RemoteIP()); ok && s.adminAllowed(ip) {
		return nil
	}
	return problem(fiber.StatusForbidden, "client "+c.Context().RemoteIP().String()+" is not in api.admin.allow")
}

// getExportState streams a snapshot of the engine's state (vehicles and open
// risks) that POST /system/import-state restores. Admin only.
//
//	GET /system/export-state
func (s *Server) getExportState(c *fiber.Ctx) error {
	if p := s.admin(c); p != nil {
		return p
	}
	st, ok := s.eng.(StateTransfer)
	if !ok {
		return problem(fiber.StatusNotImplemented, "this engine cannot export its state")
	}
	var buf bytes.Buffer
	if err := st.Export(&buf); err != nil {
		return problem(fiber.StatusInternalServerError, "export failed: "+err.Error())
	}
	ct := "application/octet-stream"
	if b := bytes.TrimLeft(buf.Bytes(), " \t\r\n"); len(b) > 0 && (b[0] == '{' || b[0] == '[') {
		ct = fiber.MIMEApplicationJSON
	}
	c.Set(fiber.HeaderContentType, ct)
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="cdp-state"`)
	return c.Send(buf.Bytes())
}

// postImportState restores a snapshot made by GET /system/export-state.
// Admin only.
//
//	POST /system/import-state
func (s *Server) postImportState(c *fiber.Ctx) error {
	if p := s.admin(c); p != nil {
		return p
	}
	st, ok := s.eng.(StateTransfer)
	if !ok {
		return problem(fiber.StatusNotImplemented, "this engine cannot import a state")
	}
	if err := st.Import(bytes.NewReader(c.Body())); err != nil {
		return problem(fiber.StatusBadRequest, "import failed: "+err.Error())
	}
	es := s.eng.Stats()
	return c.JSON(map[string]any{"imported": true, "vehicles": es.Vehicles, "open_risks": es.OpenRisks})
}

// getHealthz answers 200 while the process serves (liveness).
//
//	GET /healthz
func (s *Server) getHealthz(c *fiber.Ctx) error {
	return c.JSON(map[string]string{"status": "ok"})
}

// getReadyz answers 200 when the node takes traffic, 503 while it shuts
// down or when Options.Ready reports a problem (readiness).
//
//	GET /readyz
func (s *Server) getReadyz(c *fiber.Ctx) error {
	if s.stopping.Load() {
		return problem(fiber.StatusServiceUnavailable, "shutting down")
	}
	if s.opts.Ready != nil {
		if err := s.opts.Ready(); err != nil {
			return problem(fiber.StatusServiceUnavailable, "not ready: "+err.Error())
		}
	}
	return c.JSON(map[string]string{"status": "ready"})
}
