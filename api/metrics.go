package api

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
)

// metrics are the API's own counters plus a collector that reads the
// engine's Stats at scrape time (so the engine keeps plain atomics and knows
// nothing of Prometheus).
type metrics struct {
	accepted  prometheus.Counter
	rejects   [256]prometheus.Counter // by ingest.Reason, pre-resolved: no label lookup per record
	malformed prometheus.Counter
	oversize  prometheus.Counter
	throttled prometheus.Counter
	queueFull prometheus.Counter
	duration  prometheus.Histogram // ingest request handling time
	batch     prometheus.Histogram // records per ingest request

	requests *prometheus.CounterVec   // by route, method, code
	latency  *prometheus.HistogramVec // by route
	reqMu    sync.RWMutex
	reqCache map[reqKey]reqMetrics // resolved label sets: no lookup cost per request

	streams       prometheus.Gauge
	streamDropped prometheus.Counter
	streamSent    prometheus.Counter

	authFailures *prometheus.CounterVec // by reason (a bounded set of codes)
}

func newMetrics(reg prometheus.Registerer, eng Engine) (*metrics, error) {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_records_accepted_total",
			Help: "Records accepted into the engine's queue over REST.",
		}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_batches_malformed_total",
			Help: "Ingest requests refused whole as malformed JSON (400).",
		}),
		oversize: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_batches_oversize_total",
			Help: "Ingest requests refused whole for carrying more than api.max_batch records (413).",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_batches_throttled_total",
			Help: "Ingest requests refused whole above system.throttling_threshold x system.max_tps (429).",
		}),
		queueFull: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_ingest_batches_queue_full_total",
			Help: "Ingest requests refused whole because the engine's queue was full (429).",
		}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cdp_ingest_request_duration_seconds",
			Help:    "Time to decode, validate, normalise and queue one ingest request (body read excluded).",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 14), // 50 µs .. 0.4 s
		}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cdp_ingest_batch_records",
			Help:    "Records per accepted ingest request.",
			Buckets: []float64{1, 10, 100, 1000, 10000, 100000},
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cdp_stream_clients",
			Help: "Live risk-stream clients connected.",
		}),
		streamDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_stream_events_dropped_total",
			Help: "Risk events not delivered to a live-stream client whose buffer was full.",
		}),
		streamSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cdp_stream_events_sent_total",
			Help: "Risk events written to live-stream clients.",
		}),
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdp_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status code.",
	}, []string{"route", "method", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "cdp_http_request_duration_seconds",
		Help:    "Time to answer a request, by route pattern (for the live stream: to open it).",
		Buckets: prometheus.ExponentialBuckets(100e-6, 4, 9), // 100 µs .. 6.5 s
	}, []string{"route"})
	m.reqCache = make(map[reqKey]reqMetrics)
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdp_auth_failures_total",
		Help: "Requests refused by authentication or authorization, by reason (no_token, expired, signature, role, ...).",
	}, []string{"reason"})
	rejects := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdp_ingest_records_rejected_total",
		Help: "Records refused at ingest, by reason.",
	}, []string{"reason"})
	for _, r := range ingest.Reasons() {
		m.rejects[r] = rejects.WithLabelValues(r.String())
	}
	other := rejects.WithLabelValues("other")
	for i := range m.rejects {
		if m.rejects[i] == nil {
			m.rejects[i] = other
		}
	}
	for _, c := range []prometheus.Collector{
		m.accepted, rejects, m.malformed, m.oversize, m.throttled, m.queueFull, m.duration, m.batch,
		m.streams, m.streamDropped, m.streamSent, m.requests, m.latency, m.authFailures, &engineCollector{eng: eng},
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *metrics) reject(r ingest.Reason) { m.rejects[r].Inc() }

// authFailure counts a refused request; reason is one of
// security.AuthError's codes or "role".
func (m *metrics) authFailure(reason string) { m.authFailures.WithLabelValues(reason).Inc() }

type reqKey struct {
	route, method string
	code          int
}

type reqMetrics struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// request records one answered request. Label sets are resolved once and
// kept: routes and methods are the registered ones and codes few, so the
// cache stays small.
func (m *metrics) request(route, method string, code int, d time.Duration) {
	k := reqKey{route, method, code}
	m.reqMu.RLock()
	rm, ok := m.reqCache[k]
	m.reqMu.RUnlock()
	if !ok {
		// route and method may alias Fiber's reused buffers: copy them.
		k = reqKey{strings.Clone(route), strings.Clone(method), code}
		rm = reqMetrics{
			count:   m.requests.WithLabelValues(k.route, k.method, strconv.Itoa(code)),
			latency: m.latency.WithLabelValues(k.route),
		}
		m.reqMu.Lock()
		m.reqCache[k] = rm
		m.reqMu.Unlock()
	}
	rm.count.Inc()
	rm.latency.Observe(d.Seconds())
}

// engineCollector exports engine.Stats at scrape time.
type engineCollector struct{ eng Engine }

var (
	descVehicles   = prometheus.NewDesc("cdp_engine_vehicles", "Live vehicles in the state table.", nil, nil)
	descOpenRisks  = prometheus.NewDesc("cdp_engine_open_risks", "Risks open now.", nil, nil)
	descQueue      = prometheus.NewDesc("cdp_engine_queue_depth", "Updates accepted and waiting for a tick.", nil, nil)
	descAccepted   = prometheus.NewDesc("cdp_engine_updates_accepted_total", "Updates accepted by the engine (all ingest paths).", nil, nil)
	descApplied    = prometheus.NewDesc("cdp_engine_updates_applied_total", "Updates applied to the state table.", nil, nil)
	descDropped    = prometheus.NewDesc("cdp_engine_updates_dropped_total", "Updates dropped by the state table, by reason.", []string{"reason"}, nil)
	descExpired    = prometheus.NewDesc("cdp_engine_vehicles_expired_total", "Vehicles expired (not heard for collision_detection.vehicle_ttl).", nil, nil)
	descTicks      = prometheus.NewDesc("cdp_engine_ticks_total", "Micro-batch ticks run.", nil, nil)
	descPairs      = prometheus.NewDesc("cdp_engine_pairs_scored_total", "Pairs scored (broadphase candidates and open risks).", nil, nil)
	descPredicted  = prometheus.NewDesc("cdp_engine_predicted_total", "Vehicle states predicted.", nil, nil)
	descPhase      = prometheus.NewDesc("cdp_engine_tick_phase_seconds_total", "Time spent in each tick phase; rate(sum) / rate(cdp_engine_ticks_total) is the mean tick duration.", []string{"phase"}, nil)
	descPredictErr = prometheus.NewDesc("cdp_engine_predict_errors_total", "Predict batches the active predictor failed.", nil, nil)
	descEvents     = prometheus.NewDesc("cdp_engine_risk_events_total", "Risk events emitted, by event.", []string{"event"}, nil)
	descLastTick   = prometheus.NewDesc("cdp_engine_last_tick_seconds", "Duration of the last tick.", nil, nil)
	descTickHist   = prometheus.NewDesc("cdp_engine_tick_duration_seconds", "Duration of each micro-batch tick.", nil, nil)
	descCands      = prometheus.NewDesc("cdp_engine_candidate_pairs_total", "Candidate pairs found by the broadphase (swept boxes overlap).", nil, nil)
	descAboveMin   = prometheus.NewDesc("cdp_engine_pairs_above_min_risk_total", "Pairs scored at or above collision_detection.min_risk_level.", nil, nil)
	descUntracked  = prometheus.NewDesc("cdp_engine_risks_untracked_total", "Assessments at or above min_risk_level that opened no risk: collision_detection.max_open_risks was reached.", nil, nil)
	descDisplaced  = prometheus.NewDesc("cdp_engine_risks_displaced_total", "Open risks resolved (reason capacity) to make room for higher ones.", nil, nil)
	descDeferred   = prometheus.NewDesc("cdp_engine_vehicles_deferred_total", "Updated vehicles whose scoring went to the next tick: compute.max_pairs_per_tick was reached.", nil, nil)
	descSaturated  = prometheus.NewDesc("cdp_engine_saturated", "1 while the engine drops work to its configured bounds (max_open_risks, max_pairs_per_tick).", nil, nil)
	descMaxOpen    = prometheus.NewDesc("cdp_engine_max_open_risks", "collision_detection.max_open_risks.", nil, nil)
	descCellSize   = prometheus.NewDesc("cdp_grid_cell_size_meters", "Base cell edge of the broadphase grid.", nil, nil)
	descGridCells  = prometheus.NewDesc("cdp_grid_cells", "Non-empty grid cells over all levels.", nil, nil)
	descOccupancy  = prometheus.NewDesc("cdp_grid_occupancy", "Mean boxes sharing a level-0 cell with an entry.", nil, nil)
	descResizes    = prometheus.NewDesc("cdp_grid_resizes_total", "Grid cell-size changes.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVehicles, descOpenRisks, descQueue, descAccepted, descApplied,
		descDropped, descExpired, descTicks, descPairs, descPredicted, descPhase, descPredictErr, descEvents, descLastTick,
		descTickHist, descCands, descAboveMin, descUntracked, descDisplaced, descDeferred, descSaturated, descMaxOpen,
		descCellSize, descGridCells, descOccupancy, descResizes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.eng.Stats()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	n := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	g(descVehicles, float64(st.Vehicles))
	g(descOpenRisks, float64(st.OpenRisks))
	g(descQueue, float64(st.Pending))
	n(descAccepted, st.Accepted)
	n(descApplied, st.Applied)
	n(descDropped, st.Stale, "stale")
	n(descDropped, st.Duplicates, "duplicate")
	n(descExpired, st.Expired)
	n(descTicks, st.Ticks)
	n(descPairs, st.PairsScored)
	n(descPredicted, st.Predicted)
	for i, phase := range tickPhases {
		ch <- prometheus.MustNewConstMetric(descPhase, prometheus.CounterValue, st.PhaseTotals[i].Seconds(), phase)
	}
	n(descPredictErr, st.PredictErrors)
	n(descEvents, st.Opened, string(engine.EventOpened))
	n(descEvents, st.Updated, string(engine.EventUpdated))
	n(descEvents, st.Resolved, string(engine.EventResolved))
	g(descLastTick, st.LastTick.Seconds())
	n(descCands, st.Candidates)
	n(descAboveMin, st.AboveMin)
	n(descUntracked, st.Untracked)
	n(descDisplaced, st.Displaced)
	n(descDeferred, st.Deferred)
	sat := 0.0
	if st.Saturated {
		sat = 1
	}
	g(descSaturated, sat)
	g(descMaxOpen, float64(st.MaxOpenRisks))
	buckets := make(map[float64]uint64, len(engine.TickBuckets))
	var cum uint64
	for i, ub := range engine.TickBuckets {
		cum += st.TickHistogram[i]
		buckets[ub.Seconds()] = cum
	}
	cum += st.TickHistogram[len(engine.TickBuckets)]
	ch <- prometheus.MustNewConstHistogram(descTickHist, cum, st.TickSum.Seconds(), buckets)
	g(descCellSize, st.Grid.CellSize)
	g(descGridCells, float64(st.Grid.Cells))
	g(descOccupancy, st.Grid.Occupancy)
	n(descResizes, st.Grid.Resizes)
}

// tickPhases names engine.Stats.PhaseTotals in order.
var tickPhases = [len(engine.Stats{}.PhaseTotals)]string{"apply", "predict", "score", "track", "adjust"}

var _ prometheus.Collector = (*engineCollector)(nil)
