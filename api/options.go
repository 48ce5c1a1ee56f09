package api

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/collision-detection-platform/distributed-platform/abi/risk"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
	"github.com/collision-detection-platform/distributed-platform/host/models"
)

// Engine is what the API uses of the detection engine (*engine.Engine
// implements it).
type Engine interface {
	// TrySubmitChecked drops the updates it can tell are stale, duplicate
	// or outside the engine's time window (verdicts[i] says which) and
	// accepts the rest whole or not at all (engine.ErrQueueFull).
	TrySubmitChecked(ups []engine.Update, verdicts []engine.Verdict) (int, error)
	// Pending returns the number of updates waiting for a tick.
	Pending() int
	// Config returns the engine's configuration (the queue bound).
	Config() engine.Config
	// Vehicle returns one vehicle's stored state.
	Vehicle(id string) (engine.VehicleState, bool)
	// Vehicles calls fn for every live vehicle in id order until it returns
	// false. fn runs under the engine's read lock: it must not call the engine.
	Vehicles(fn func(engine.VehicleState) bool)
	// Risks returns the open risks ordered by id.
	Risks() []engine.Risk
	// Risk returns one open risk.
	Risk(id string) (engine.Risk, bool)
	// Stats returns a snapshot of the engine's counters.
	Stats() engine.Stats
	// Models returns the models in use.
	Models() engine.Models
	// AddSink registers a sink for later ticks' events. New calls it once,
	// so New must run before the engine starts ticking.
	AddSink(s engine.Sink)
}

// StateTransfer is implemented by engines that can snapshot and restore
// their state (vehicles and open risks). When Options.Engine does not
// implement it, /system/export-state and /system/import-state answer 501.
type StateTransfer interface {
	Export(w io.Writer) error
	Import(r io.Reader) error
}

// History is the risk-event history the API reads (store/memory.Store and
// store/embedded.Store implement it; the PostgreSQL store too). Events are
// appended by the engine (the store is registered as an engine.Sink by the
// host); the API only reads.
type History interface {
	// Append keeps copies of evs.
	Append(ctx context.Context, evs []engine.Event) error
	// Range returns the events whose data time (Event.Time) lies in
	// [from, to), oldest first; a zero bound is open; vehicle, when not
	// empty, keeps the events of that vehicle's risks; limit > 0 caps the
	// answer.
	Range(ctx context.Context, from, to time.Time, vehicle string, limit int) ([]engine.Event, error)
	// Query answers one page of a filtered history query; Page.Next is the
	// cursor of the next page.
	Query(ctx context.Context, q risk.Query) (risk.Page, error)
	// ByRisk returns one risk's events, oldest first.
	ByRisk(ctx context.Context, riskID string) ([]engine.Event, error)
}

// Version describes the build, for /system/version.
type Version struct {
	Version string `json:"version"` // e.g. "v0.3.1" or a git describe; default "dev"
	Commit  string `json:"commit,omitempty"`
	Date    string `json:"date,omitempty"` // build time, RFC 3339
}

// Options configure a Server. Engine is required; every other zero field
// takes the default its comment states.
type Options struct {
	// Engine is the detection engine. Required.
	Engine Engine
	// Frame converts WGS84 records to the engine frame and back. Default: ENU
	// at 0°, 0°, 0 m (the host passes system.frame).
	Frame *geo.Frame
	// Validator holds the record limits and the class table. Default:
	// ingest.NewValidator(ingest.Options{}, nil) (class "default" only).
	Validator *ingest.Validator
	// History serves /api/v1/risks/history and closed risks. Default nil:
	// those answer from open risks only (history: 501).
	History History

	// MaxBatch is the most records one ingest request may carry; 413 above
	// (api.max_batch). Default 10000.
	MaxBatch int
	// BodyLimit is the largest request body, bytes; 413 above
	// (api.max_body_bytes). Default 16 MiB.
	BodyLimit int
	// CORSOrigins are the origins allowed cross-origin access ("*" for any)
	// (api.cors_origins). Default none: no CORS headers.
	CORSOrigins []string
	// AdminEnabled turns on the admin endpoints (/system/export-state,
	// /system/import-state) (api.admin.enabled). Default false: 403.
	AdminEnabled bool
	// ImportLimit is the largest body POST /system/import-state accepts, bytes
	// (a snapshot of a large fleet is far above BodyLimit); it applies only
	// when AdminEnabled. Default 256 MiB.
	ImportLimit int
	// UploadLimit is the largest body POST /admin/plugins accepts, bytes: a
	// module of plugins.limits.max_module_bytes with its multipart framing
	// and fields. Like ImportLimit it applies only when AdminEnabled, to
	// clients that may upload. Default 33 MiB (the default 32 MiB module
	// limit plus 1 MiB).
	UploadLimit int
	// AdminAllow lists the client networks (CIDR) that may call the admin
	// endpoints (api.admin.allow). Default 127.0.0.1/32 and ::1/128.
	AdminAllow []string

	// Auth, when set, authenticates every request to a route that is not
	// open (see routePolicy) and authorizes it by role
	// (security.jwt.enabled). Default nil: no authentication; the admin
	// routes keep their address allow-list either way.
	Auth Authenticator
	// PublicMetrics serves /metrics without a token when Auth is set
	// (security.jwt.public_metrics), for scrapers that cannot send one.
	// Default false: /metrics needs the read role.
	PublicMetrics bool
	// Audit, when set, records every admin call and every refused
	// authentication, and serves GET /system/audit. Default nil: nothing is
	// recorded and /system/audit answers 501.
	Audit Auditor

	// TLS, when set, serves HTTPS only on the listener Serve is given
	// (security.tls); use a configuration whose certificates can be
	// replaced while serving (security.CertReloader.ServerConfig). Default
	// nil: plain HTTP.
	TLS *tls.Config
	// Warnings are unsafe settings the node runs with (such as listening
	// beyond loopback without authentication), shown in /system/status.
	// Default none.
	Warnings []string

	// MaxTPS is the sustained ingest rate, records/s, the node is sized for
	// (system.max_tps). Default 0: no throttling.
	MaxTPS float64
	// ThrottlingThreshold is the fraction of MaxTPS above which ingest
	// answers 429 (system.throttling_threshold). Default 0.9.
	ThrottlingThreshold float64
	// ThrottleBurst is how many seconds of the throttled rate may arrive at
	// once before 429s start. Default 1 s (never less than MaxBatch records).
	ThrottleBurst time.Duration

	// ReadTimeout, WriteTimeout and IdleTimeout bound connections
	// (api.read_timeout, write_timeout, idle_timeout); the live stream extends
	// its write deadline per event. Defaults 10 s, 10 s, 60 s; negative: none.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration

	// DefaultLimit is the page size of GET /api/v1/risks and /vehicles when
	// the request names no limit (api.default_limit). Default 100.
	DefaultLimit int
	// MaxLimit is the largest limit a list request may ask for, 400 above
	// (api.max_limit); it also caps the history's pages. Default 10000.
	MaxLimit int

	// MaxConnections caps the connections served at once (fasthttp's
	// Concurrency); beyond it new connections get 503. With BodyLimit it
	// bounds the memory held by request bodies. Default 4096.
	MaxConnections int

	// StreamBuffer is the number of recent risk events kept for the live
	// stream's clients, shared by all (api.stream.buffer): how far a client
	// may fall behind, or resume with Last-Event-ID, without losing events.
	// Default 100000 (about 30 MB when full).
	StreamBuffer int
	// StreamHeartbeat is the interval of SSE comment lines that keep idle
	// streams open through proxies and detect gone clients
	// (api.stream.heartbeat). Default 15 s.
	StreamHeartbeat time.Duration
	// MaxStreams caps concurrent live-stream clients (503 above)
	// (api.stream.max_clients). Default 1000.
	MaxStreams int

	// Registerer receives the API's and the engine's metrics. Default: a new
	// prometheus.Registry with the Go and process collectors.
	Registerer prometheus.Registerer
	// Gatherer serves /metrics. Default: Registerer when it is a Gatherer
	// (a *prometheus.Registry is), else prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer

	// Logger receives request-level logs (never one line per record).
	// Default slog.Default().
	Logger *slog.Logger
	// Version is reported by /system/version.
	Version Version
	// Plugins, when set, serves the plugin management endpoints under
	// /admin/plugins and the "plugins" section of /system/status. Default
	// nil: those endpoints answer 501.
	Plugins *models.Manager
	// Messaging, when set, fills the "messaging" section of /system/status
	// (the Kafka edge's consumer lag, records consumed and rejected, events
	// produced, produce errors). Default nil: no section.
	Messaging func() any
	// Storage, when set, fills the "storage" section of /system/status
	// (each durable store: reachable, rows written, queued writes). Default
	// nil: no section.
	Storage func() any
	// Tracks serves GET /api/v1/vehicles/{id}/track. Default nil: 501.
	Tracks Tracks
	// OnThrottle, when set, hears ingest throttling turn on (the first 429,
	// reason "rate" or "queue_full") and off (the first batch accepted a
	// second after the last 429). It must not block. Default nil.
	OnThrottle func(on bool, reason string)
	// Ready, when set, is consulted by /readyz besides the server's own
	// state (e.g. plugins loaded, stores reachable); a non-nil error is 503.
	Ready func() error
	// Horizon is the prediction horizon
	// (collision_detection.prediction_time), reported by GET /api/v1/map so
	// that the dashboard draws predicted tracks as far ahead as the engine
	// looks. Default 30 s.
	Horizon time.Duration
	// Now is the clock used to judge record timestamps and uptime. Default
	// time.Now.
	Now func() time.Time
}

// withDefaults resolves zero fields, in one place.
func (o Options) withDefaults() (Options, error) {
	if o.Engine == nil {
		return o, ErrNoEngine
	}
	if o.Frame == nil {
		f, err := geo.New(geo.Config{})
		if err != nil {
			return o, err
		}
		o.Frame = f
	}
	if o.Validator == nil {
		v, err := ingest.NewValidator(ingest.Options{}, nil)
		if err != nil {
			return o, err
		}
		o.Validator = v
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 10000
	}
	if o.BodyLimit <= 0 {
		o.BodyLimit = 16 << 20
	}
	if o.ImportLimit <= 0 {
		o.ImportLimit = 256 << 20
	}
	if o.UploadLimit <= 0 {
		o.UploadLimit = 33 << 20
	}
	if o.AdminAllow == nil {
		o.AdminAllow = []string{"127.0.0.1/32", "::1/128"}
	}
	if o.ThrottlingThreshold <= 0 {
		o.ThrottlingThreshold = 0.9
	}
	if o.ThrottleBurst <= 0 {
		o.ThrottleBurst = time.Second
	}
	dur := func(d *time.Duration, def time.Duration) {
		switch {
		case *d == 0:
			*d = def
		case *d < 0:
			*d = 0
		}
	}
	dur(&o.ReadTimeout, 10*time.Second)
	dur(&o.WriteTimeout, 10*time.Second)
	dur(&o.IdleTimeout, 60*time.Second)
	if o.MaxLimit <= 0 {
		o.MaxLimit = 10000
	}
	if o.DefaultLimit <= 0 {
		o.DefaultLimit = 100
	}
	if o.DefaultLimit > o.MaxLimit {
		return o, fmt.Errorf("api: DefaultLimit (api.default_limit) %d is above MaxLimit (api.max_limit) %d", o.DefaultLimit, o.MaxLimit)
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 4096
	}
	if o.StreamBuffer <= 0 {
		o.StreamBuffer = 100_000
	}
	if o.StreamHeartbeat <= 0 {
		o.StreamHeartbeat = 15 * time.Second
	}
	if o.MaxStreams <= 0 {
		o.MaxStreams = 1000
	}
	if o.Registerer == nil {
		r := prometheus.NewRegistry()
		r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		o.Registerer = r
	}
	if o.Gatherer == nil {
		if g, ok := o.Registerer.(prometheus.Gatherer); ok {
			o.Gatherer = g
		} else {
			o.Gatherer = prometheus.DefaultGatherer
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version.Version == "" {
		o.Version.Version = "dev"
	}
	if o.Horizon <= 0 {
		o.Horizon = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
