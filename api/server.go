package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
)

// Server is the REST API. Create it with New, serve with Listen or Serve,
// stop with Shutdown.
type Server struct {
	opts    Options
	app     *fiber.App
	log     *slog.Logger
	eng     Engine
	started time.Time

	ingestPool sync.Pool // *ingestBuf
	queueMax   int       // the engine's queue bound
	throttle   *tokenBucket
	hub        *hub
	metrics    *metrics
	rates      rateMeter

	serving  atomic.Bool
	stopping atomic.Bool
	// throttled is set while ingest is being refused; lastThrottle is the
	// Unix nanoseconds of the last refusal (see throttling).
	throttled    atomic.Bool
	lastThrottle atomic.Int64
	mu           sync.Mutex // guards ln
	ln           net.Listener

	adminAllow []netip.Prefix
	policy     *policies
}

// New builds a server: it registers the metrics and the live-stream sink with
// the engine (so it must run before the engine starts ticking) and the
// routes. It fails when Options.Engine is missing or a metric cannot be
// registered (e.g. twice in one registry).
func New(opts Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger, eng: o.Engine, started: o.Now()}
	for i, cidr := range o.AdminAllow {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("api: AdminAllow[%d] (api.admin.allow): want a network in CIDR form, got %q", i, cidr)
		}
		s.adminAllow = append(s.adminAllow, p.Masked())
	}
	s.queueMax = o.Engine.Config().MaxPending
	s.throttle = newTokenBucket(o.MaxTPS*o.ThrottlingThreshold, o.ThrottleBurst, o.MaxBatch, o.Now)
	s.metrics, err = newMetrics(o.Registerer, o.Engine)
	if err != nil {
		return nil, err
	}
	s.hub = newHub(o.StreamBuffer, uint64(s.started.UnixNano()), s.metrics)
	s.rates.init(o.Now(), o.Engine.Stats())
	s.ingestPool.New = func() any { return newIngestBuf(o.Validator) }

	s.app = fiber.New(fiber.Config{
		AppName:               "cdp",
		DisableStartupMessage: true,
		BodyLimit:             o.BodyLimit,
		ReadTimeout:           o.ReadTimeout,
		WriteTimeout:          o.WriteTimeout,
		IdleTimeout:           o.IdleTimeout,
		ErrorHandler:          s.errorHandler,
		Concurrency:           o.MaxConnections,
		// Ingest bodies are parsed in place: the request buffer must not be
		// copied per request (Fiber's Immutable would).
		Immutable: false,
	})
	// A panicking handler answers 500 (logged by errorHandler) instead of
	// taking the process down.
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: func(c *fiber.Ctx, e any) {
		s.log.Error("api: handler panic", "method", c.Method(), "path", c.Path(), "panic", e, "stack", string(debug.Stack()))
	}}))
	s.app.Use(s.observe)
	if len(o.CORSOrigins) > 0 {
		s.app.Use(cors.New(cors.Config{
			AllowOrigins: strings.Join(o.CORSOrigins, ","),
			AllowMethods: "GET,POST,HEAD,OPTIONS",
			AllowHeaders: "Content-Type,Content-Encoding,Authorization,Last-Event-ID,X-Request-ID,X-CDP-Signature",
			// Browsers hide other headers from scripts: a client must see
			// when to retry.
			ExposeHeaders: "Retry-After,X-Request-ID",
		}))
	}
	// fasthttp's idle-worker cleaner sleeps this long between rounds and
	// only then notices a stop: at the default 10 s a stopped server leaves
	// a goroutine behind for 10 s.
	s.app.Server().MaxIdleWorkerDuration = time.Second
	s.policy = compilePolicies(s.app.Config(), o.PublicMetrics)
	// Authentication and the admin audit run for every request, before the
	// route's handler (CORS preflights are answered above, without a token).
	s.app.Use(s.guard)
	if o.AdminEnabled && (o.ImportLimit > o.BodyLimit || o.UploadLimit > o.BodyLimit) {
		// The body limit is per request in fasthttp: raise it for the
		// import and plugin upload routes only, before the body is read,
		// and only for a client that may call them (see importAllowed).
		s.app.Server().HeaderReceived = func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if !h.IsPost() {
				return fasthttp.RequestConfig{}
			}
			uri := h.RequestURI()
			if i := bytes.IndexByte(uri, '?'); i >= 0 {
				uri = uri[:i]
			}
			// Fiber routes case-insensitively and ignores trailing slashes.
			path := strings.TrimRight(string(uri), "/")
			limit := 0
			switch {
			case strings.EqualFold(path, importPath):
				limit = o.ImportLimit
			case strings.EqualFold(path, uploadPath):
				limit = o.UploadLimit
			}
			if limit > o.BodyLimit && s.importAllowed(h) {
				return fasthttp.RequestConfig{MaxRequestBodySize: limit}
			}
			return fasthttp.RequestConfig{}
		}
	}
	s.routes()
	if err := s.dashboardRoutes(); err != nil {
		return nil, fmt.Errorf("api: dashboard: %w", err)
	}
	o.Engine.AddSink(s.hub)
	return s, nil
}

func (s *Server) routes() {
	a := s.app
	v1 := a.Group("/api/v1")
	v1.Post("/locations", s.postLocations)
	v1.Get("/vehicles", s.getVehicles)
	v1.Get("/vehicles/:id", s.getVehicle)
	v1.Get("/vehicles/:id/track", s.getTrack)
	v1.Get("/map", s.getMap)
	v1.Get("/risks", s.getRisks)
	// Static paths before /risks/:id, which would take them otherwise.
	v1.Get("/risks/history", s.getRiskHistory)
	v1.Get("/risks/stream", s.getRiskStream)
	v1.Get("/risks/:id", s.getRisk)

	a.Get("/system/status", s.getStatus)
	a.Get("/system/version", s.getVersion)
	a.Get("/system/export-state", s.getExportState)
	a.Post(importPath, s.postImportState)
	a.Get("/system/audit", s.getAudit)

	a.Get("/healthz", s.getHealthz)
	a.Get("/readyz", s.getReadyz)
	a.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{})))
	a.Get("/openapi.json", s.getOpenAPI)
	s.adminRoutes()
}

// observe counts and times every request by route pattern (never the raw
// path: bounded label values) and, at debug level, logs it. Never one line
// per record.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := statusOf(c, err)
	route := c.Route().Path
	if route == "/" { // no route matched: this middleware's own
		route = "unmatched"
	}
	d := time.Since(start)
	method := c.Method()
	switch method {
	case fiber.MethodGet, fiber.MethodHead, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch,
		fiber.MethodDelete, fiber.MethodOptions:
	default:
		// Fiber refuses unknown methods before routing; should that change,
		// the label set stays bounded.
		method = "OTHER"
	}
	s.metrics.request(route, method, status, d)
	if s.log.Enabled(c.Context(), slog.LevelDebug) {
		s.log.Debug("api: request", "method", c.Method(), "path", c.Path(), "status", status,
			"duration", d, "bytes", len(c.Response().Body()), "err", err)
	}
	return err
}

// statusOf is the status the answer will have: the error handler writes it
// after the middleware returns when a handler failed.
func statusOf(c *fiber.Ctx, err error) int {
	if err == nil {
		return c.Response().StatusCode()
	}
	var p *Problem
	var fe *fiber.Error
	switch {
	case errors.As(err, &p):
		return p.Status
	case errors.As(err, &fe):
		return fe.Code
	}
	return fiber.StatusInternalServerError
}

const importPath = "/system/import-state"

// uploadPath is the plugin upload route (POST), whose body limit is
// UploadLimit.
const uploadPath = "/admin/plugins"

// App returns the Fiber application, for tests (app.Test) and for mounting
// extra routes before serving.
func (s *Server) App() *fiber.App { return s.app }

// Listen serves on addr ("host:port") until Shutdown. It returns nil after a
// Shutdown and the listener's error otherwise.
func (s *Server) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve serves on ln until Shutdown (which closes ln).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.stopping.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	tl := newTrackingListener(ln)
	s.ln = tl
	s.serving.Store(true)
	s.mu.Unlock()
	var served net.Listener = tl
	if s.opts.TLS != nil {
		// TLS only: a client speaking plain HTTP fails the handshake and
		// its connection is closed unanswered.
		served = tls.NewListener(tl, s.opts.TLS)
	}
	err := s.app.Listener(served)
	if s.stopping.Load() {
		return nil
	}
	return err
}

// Addr returns the address served, nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Shutdown stops the server gracefully: /readyz turns 503, new connections
// are refused, live streams end, and requests in flight finish (an ingest
// request in flight is either accepted whole into the engine's queue or
// answered with an error), until ctx is done. Work accepted into the engine
// is the engine's to drain: engine.Run runs a last tick when its context
// ends, so the host stops the server first and the engine second. Idle
// keep-alive connections close at once, and so do connections opened but
// never used (clients' spares), which fasthttp would otherwise wait
// ReadTimeout for.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.stopping.Store(true)
	serving := s.serving.Load()
	s.mu.Unlock()
	s.hub.close()
	if !serving {
		return nil
	}
	// While fasthttp waits for connections to finish, close the ones that
	// never sent a request: fasthttp would wait ReadTimeout for them.
	stopReaper := make(chan struct{})
	reaped := make(chan struct{})
	go func() {
		defer close(reaped)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopReaper:
				return
			case <-t.C:
				s.mu.Lock()
				if tl, ok := s.ln.(*trackingListener); ok {
					tl.closeUnused(100 * time.Millisecond)
				}
				s.mu.Unlock()
			}
		}
	}()
	err := s.app.ShutdownWithContext(ctx)
	close(stopReaper)
	<-reaped
	// When Serve had not yet handed ln to fasthttp, the shutdown above saw
	// no listener: closing it here makes that Serve return at once.
	s.mu.Lock()
	if s.ln != nil {
		_ = s.ln.Close()
	}
	s.mu.Unlock()
	return err
}
