// Package host is the composition root of cdp: it turns a validated
// configuration into a running node (frame, class table, validator, engine,
// history, REST API, simulator) and implements the long-running commands of
// the command line (serve, replay). It holds no detection logic of its own.
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/collision-detection-platform/distributed-platform/api"
	"github.com/collision-detection-platform/distributed-platform/api/kafka"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/grid"
	"github.com/collision-detection-platform/distributed-platform/host/audit"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/geo"
	"github.com/collision-detection-platform/distributed-platform/host/ingest"
	"github.com/collision-detection-platform/distributed-platform/host/models"
	"github.com/collision-detection-platform/distributed-platform/host/security"
	"github.com/collision-detection-platform/distributed-platform/plugins"
	"github.com/collision-detection-platform/distributed-platform/store/embedded"
	"github.com/collision-detection-platform/distributed-platform/store/memory"
	"github.com/collision-detection-platform/distributed-platform/store/postgres"
)

// EngineConfig maps the configuration onto the engine's.
func EngineConfig(c config.Config) engine.Config {
	cd := c.CollisionDetection
	return engine.Config{
		Horizon:            cd.PredictionTime.Seconds(),
		MaxDistance:        cd.MaxDistance,
		MinRisk:            cd.MinRiskLevel,
		Hysteresis:         cd.Hysteresis,
		UpdateRiskDelta:    cd.UpdateRiskDelta,
		UpdateTCADelta:     cd.UpdateTCADelta.Seconds(),
		ResolveAfter:       cd.ResolveAfter.Seconds(),
		VehicleTTL:         cd.VehicleTTL.Seconds(),
		Workers:            c.Compute.MaxWorkers,
		BatchSize:          c.Compute.BatchSize,
		ProcessingInterval: c.Compute.ProcessingInterval,
		MaxPairsPerTick:    c.Compute.MaxPairsPerTick,
		MaxQueueDelay:      c.Compute.MaxQueueDelay,
		MaxOpenRisks:       cd.MaxOpenRisks,
		ClassTTL:           classTTLs(c),
		Grid: grid.Config{
			InitialSize:         c.Grid.InitialSize,
			MinSize:             c.Grid.MinSize,
			MaxSize:             c.Grid.MaxSize,
			AdjustmentThreshold: c.Grid.AdjustmentThreshold,
			AdjustmentFactor:    c.Grid.AdjustmentFactor,
			TargetOccupancy:     c.Grid.TargetOccupancy,
			Shards:              c.Grid.Shards,
		},
	}
}

// classTTLs lists collision_detection.classes.*.vehicle_ttl in seconds by
// class index (0: the global vehicle_ttl), nil when no class sets one.
func classTTLs(c config.Config) []float64 {
	classes, err := Classes(c)
	if err != nil {
		return nil // NewNode reports it
	}
	var ttl []float64
	for i := 0; i < classes.Len(); i++ {
		if d := c.CollisionDetection.Classes[classes.Name(uint32(i))].VehicleTTL; d > 0 {
			if ttl == nil {
				ttl = make([]float64, classes.Len())
			}
			ttl[i] = d.Seconds()
		}
	}
	return ttl
}

// Classes builds the class table of collision_detection.classes.
func Classes(c config.Config) (*ingest.Classes, error) {
	m := make(map[string]ingest.ClassSpec, len(c.CollisionDetection.Classes))
	for name, cl := range c.CollisionDetection.Classes {
		m[name] = ingest.ClassSpec{Horizontal: cl.Horizontal, Vertical: cl.Vertical, Radius: cl.Radius}
	}
	return ingest.NewClasses(m)
}

// Frame builds the engine frame of system.frame.
func Frame(c config.Config) (*geo.Frame, error) {
	f := c.System.Frame
	return geo.New(geo.Config{Kind: f.Type, Lat: f.Origin.Lat, Lon: f.Origin.Lon, Alt: f.Origin.Alt})
}

// Node is one running cdp process: everything serve starts.
type Node struct {
	Config    config.Config
	Frame     *geo.Frame
	Validator *ingest.Validator
	Engine    *engine.Engine
	// History is the risk-event history the API reads: the embedded store
	// with a data directory, a bounded memory ring without.
	History api.History
	// onSystemEvent, when set before Run, sees every node-level event
	// (tests observe outages through it).
	onSystemEvent func(typ string, detail map[string]any)
	// Postgres is the PostgreSQL store of database.postgres.dsn (risk
	// events, episodes, locations; the history the API reads); nil without
	// a DSN. Run closes it.
	Postgres *postgres.Store
	// Embedded is the bbolt store under system.data_dir (history, tracks,
	// saved engine state); nil without a data directory. Run closes it.
	Embedded *embedded.Store
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// Plugins manages uploaded models (the admin API's /admin/plugins); nil
	// until StartPlugins.
	Plugins *models.Manager
	runtime *plugins.Runtime
	// Kafka is the Kafka edge (consumer of vehicle-locations, producer of
	// collision-risks, system-events and dead letters) while Run runs with
	// messaging.kafka.bootstrap_servers set; nil otherwise. The rest of the
	// node reports lifecycle events through Kafka.SystemEvent.
	Kafka *kafka.Bridge
	// apiEngine, when set, is what the API submits to and queries instead
	// of Engine (the ingest and compute roles); messaging, when set, is the
	// messaging section of /system/status (see cluster.go).
	apiEngine api.Engine
	messaging func() any
	// TLS serves and reloads the HTTPS certificate when security.tls is
	// set; nil otherwise.
	TLS *security.CertReloader
	// Auth verifies bearer tokens when security.jwt.enabled; nil otherwise.
	Auth *security.Authenticator
	// Audit is the audit log: <system.data_dir>/audit.jsonl, or the process
	// log without a data directory.
	Audit     *audit.Log
	auditFile *audit.FileSink
	// Warnings are unsafe settings the node runs with (logged at start and
	// shown in /system/status).
	Warnings []string
}

// StartPlugins opens the plugin registry under <system.data_dir>/plugins (in
// memory without a data directory), re-activates the plugins that were
// active and starts watching them. The models the configuration loaded are
// the base that a rollback returns to. Run closes it.
func (n *Node) StartPlugins(ctx context.Context) error {
	rt, err := NewPluginRuntime(n.Config)
	if err != nil {
		return fmt.Errorf("host: plugins: %w", err)
	}
	opts, err := PluginOptions(n.Config, config.Plugin{}, n.Logger)
	if err != nil {
		rt.Close(ctx)
		return fmt.Errorf("host: plugins: %w", err)
	}
	dir := ""
	if n.Config.System.DataDir != "" {
		dir = filepath.Join(n.Config.System.DataDir, "plugins")
	}
	mc := models.Config{Engine: n.Engine, Runtime: rt, Dir: dir, Options: opts,
		Registerer: n.Registry, Logger: n.Logger, OnEvent: n.systemEvent}
	if v, err := pluginVerifier(n.Config); err != nil {
		rt.Close(ctx)
		return fmt.Errorf("host: %w", err)
	} else if v != nil {
		mc.Signatures = v
	}
	m, err := models.New(ctx, mc)
	if err != nil {
		rt.Close(ctx)
		return fmt.Errorf("host: system.data_dir: %w", err)
	}
	n.Plugins, n.runtime = m, rt
	return nil
}

// closePlugins stops the plugin manager after the engine stopped.
func (n *Node) closePlugins(ctx context.Context) error {
	if n.Plugins == nil {
		return nil
	}
	err := n.Plugins.Close(ctx)
	n.runtime.Close(ctx)
	n.Plugins, n.runtime = nil, nil
	return err
}

// NewNode provisions a node from a valid configuration: frame, classes,
// validator, engine with its models, history. It starts nothing.
func NewNode(cfg config.Config, logger *slog.Logger) (*Node, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := checkAvailable(cfg); err != nil {
		return nil, err
	}
	frame, err := Frame(cfg)
	if err != nil {
		return nil, fmt.Errorf("host: system.frame: %w", err)
	}
	classes, err := Classes(cfg)
	if err != nil {
		return nil, fmt.Errorf("host: collision_detection.classes: %w", err)
	}
	val, err := ingest.NewValidator(ingest.Options{MaxSkew: cfg.CollisionDetection.MaxFutureSkew}, classes)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	models, err := Models(cfg, logger)
	if err != nil {
		return nil, err
	}
	ecfg := EngineConfig(cfg)
	ecfg.Now = func() float64 { return float64(time.Now().UnixNano()) / 1e9 }
	var node *Node // set below; the engine calls OnSaturation only once it ticks
	ecfg.OnSaturation = func(saturated bool, st engine.Stats) { node.saturation(saturated, st) }
	eng, err := engine.New(ecfg, models)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		// The tick budget, so that alert rules compare tick durations with
		// each node's own compute.processing_interval.
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cdp_engine_tick_interval_seconds",
			Help: "The tick budget: compute.processing_interval."},
			func() float64 { return cfg.Compute.ProcessingInterval.Seconds() }))
	n := &Node{Config: cfg, Frame: frame, Validator: val, Engine: eng, Registry: reg, Logger: logger}
	if cfg.System.DataDir != "" {
		if err := n.openEmbedded(); err != nil {
			return nil, err
		}
	} else {
		hist, err := memory.New(memory.Config{})
		if err != nil {
			return nil, fmt.Errorf("host: %w", err)
		}
		eng.AddSink(hist)
		n.History = hist
	}
	if cfg.Database.Postgres.DSN != "" {
		if err := n.openPostgres(); err != nil {
			n.closeStores()
			return nil, err
		}
	}
	if err := n.provisionSecurity(); err != nil {
		n.closeStores()
		return nil, err
	}
	node = n
	return n, nil
}

// saturation reports the engine reaching its bounds (collision_detection.
// max_open_risks, compute.max_pairs_per_tick) and recovering, in the log and
// as the system events capacity_reached and capacity_recovered.
func (n *Node) saturation(saturated bool, st engine.Stats) {
	detail := map[string]any{
		"open_risks": st.OpenRisks, "max_open_risks": st.MaxOpenRisks, "untracked": st.Untracked,
		"displaced": st.Displaced, "deferred": st.Deferred, "max_pairs_per_tick": st.MaxPairsPerTick,
	}
	if saturated {
		n.Logger.Warn("engine: at its bounds: keeping the highest risks, counting what is not tracked or deferred",
			"open_risks", st.OpenRisks, "max_open_risks", st.MaxOpenRisks, "untracked", st.Untracked,
			"deferred", st.Deferred)
		n.systemEvent(string(kafka.SystemCapacityReached), detail)
		return
	}
	n.Logger.Info("engine: back within its bounds", "open_risks", st.OpenRisks, "untracked", st.Untracked)
	n.systemEvent(string(kafka.SystemCapacityRecovered), detail)
}

// checkAvailable refuses the settings that this build accepts in the schema
// but does not honour yet, naming the key, so that no setting is silently
// ignored.
func checkAvailable(cfg config.Config) error {
	if cfg.Database.Redis.Addr != "" {
		return &NotAvailableError{Key: "database.redis.addr", Reason: "the Redis store is not available in this build; unset it"}
	}
	return nil
}

// Models returns the models the configuration names: the builtin ones unless
// plugins.predictor / plugins.scorer name a Wasm module.
func Models(cfg config.Config, logger *slog.Logger) (engine.Models, error) {
	m := engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}}
	if cfg.Plugins.Predictor.Path != "" || cfg.Plugins.Scorer.Path != "" {
		return loadPluginModels(cfg, m, logger)
	}
	return m, nil
}

// loadPluginModels is replaced when the Wasm runtime is wired in.
var loadPluginModels = func(cfg config.Config, m engine.Models, _ *slog.Logger) (engine.Models, error) {
	return m, errors.New("host: plugins.predictor/plugins.scorer: Wasm models are not available in this build")
}

// API builds the REST server of the node.
func (n *Node) API(version api.Version) (*api.Server, error) {
	c := n.Config.API
	// Which build each node runs, for dashboards and `cdp report`.
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "cdp_build_info", Help: "1, labelled with the version and commit of this build and the node's system.name.",
		ConstLabels: prometheus.Labels{"version": version.Version, "commit": version.Commit, "node": n.Config.System.Name}})
	info.Set(1)
	if err := n.Registry.Register(info); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		return nil, fmt.Errorf("host: metrics: %w", err)
	}
	var eng api.Engine = n.Engine
	if n.apiEngine != nil {
		eng = n.apiEngine
	}
	o := api.Options{
		Engine:              eng,
		Frame:               n.Frame,
		Validator:           n.Validator,
		History:             n.History,
		MaxBatch:            c.MaxBatch,
		BodyLimit:           c.MaxBodyBytes,
		UploadLimit:         n.Config.Plugins.Limits.MaxModuleBytes + 1<<20,
		CORSOrigins:         c.CORSOrigins,
		AdminEnabled:        c.Admin.Enabled,
		AdminAllow:          c.Admin.Allow,
		MaxTPS:              float64(n.Config.System.MaxTPS),
		ThrottlingThreshold: n.Config.System.ThrottlingThreshold,
		ReadTimeout:         c.ReadTimeout,
		WriteTimeout:        c.WriteTimeout,
		IdleTimeout:         c.IdleTimeout,
		DefaultLimit:        c.DefaultLimit,
		MaxLimit:            c.MaxLimit,
		StreamBuffer:        c.Stream.Buffer,
		MaxStreams:          c.Stream.MaxClients,
		StreamHeartbeat:     c.Stream.Heartbeat,
		Registerer:          n.Registry,
		Gatherer:            n.Registry,
		Logger:              n.Logger,
		Version:             version,
		Plugins:             n.Plugins,
		Ready:               n.ready,
		PublicMetrics:       n.Config.Security.JWT.PublicMetrics,
		Warnings:            n.Warnings,
		Horizon:             n.Config.CollisionDetection.PredictionTime,
		OnThrottle: func(on bool, reason string) {
			typ := "throttling_off"
			if on {
				typ = "throttling_on"
			}
			n.systemEvent(typ, map[string]any{"source": "rest", "reason": reason})
		},
		Storage: n.storageStatus,
		Tracks:  n.tracks(),
		Messaging: func() any {
			if n.messaging != nil {
				return n.messaging()
			}
			if n.Kafka == nil { // provisioned by Run, before the API serves
				return nil
			}
			return n.Kafka.Stats()
		},
	}
	// A nil pointer in an interface field would read as "set".
	if n.Auth != nil {
		o.Auth = n.Auth
	}
	if n.Audit != nil {
		o.Audit = n.Audit
	}
	if n.TLS != nil {
		o.TLS = n.TLS.ServerConfig()
	}
	return api.New(o)
}

// ready is the node's part of /readyz: a configured Kafka cluster that does
// not answer makes the node not ready (its input and its risk events would
// go nowhere), while REST ingest keeps working.
func (n *Node) ready() error {
	if err := n.storageReady(); err != nil {
		return err
	}
	if k := n.Kafka; k != nil {
		if st := k.Stats(); !st.Connected {
			why := st.LastError
			if why == "" {
				why = "no answer yet"
			}
			return fmt.Errorf("kafka (messaging.kafka.bootstrap_servers %s) unreachable: %s",
				strings.Join(n.Config.Messaging.Kafka.BootstrapServers, ","), why)
		}
	}
	return nil
}

// Run serves until ctx is done: the engine ticks, the API listens on ln (or
// on api.host:api.port when ln is nil), feed (when not nil) runs beside them.
// On cancellation the API stops taking requests and drains, then the engine
// runs a last tick so that every accepted update is processed.
func (n *Node) Run(ctx context.Context, ln net.Listener, srv *api.Server, feed func(context.Context)) error {
	if ln == nil {
		addr := net.JoinHostPort(n.Config.API.Host, strconv.Itoa(n.Config.API.Port))
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			return fmt.Errorf("host: api.host/api.port: %w", err)
		}
	}
	if len(n.Config.Messaging.Kafka.BootstrapServers) > 0 {
		if err := n.provisionKafka(); err != nil {
			ln.Close()
			return err
		}
	}
	engCtx, stopEngine := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = n.Engine.Run(engCtx) }()
	jobsCtx, stopJobs := context.WithCancel(context.Background())
	var jobs sync.WaitGroup
	n.runStoreJobs(jobsCtx, &jobs)
	if n.Kafka != nil {
		// Returns at once; an unreachable cluster is logged and retried
		// while REST ingest goes on.
		n.Kafka.Start(map[string]any{"environment": n.Config.System.Environment})
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	tlsCtx, stopTLS := context.WithCancel(context.Background())
	tlsDone := make(chan struct{})
	if n.TLS != nil {
		// Subscribed before serving: once the API answers, SIGHUP reloads.
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		go func() { defer close(tlsDone); defer signal.Stop(hup); n.watchTLS(tlsCtx, hup) }()
	} else {
		close(tlsDone)
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	feedDone := make(chan struct{})
	if feed != nil {
		go func() { defer close(feedDone); feed(feedCtx) }()
	} else {
		close(feedDone)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	stopFeed()
	<-feedDone // its last Submit lands before the engine's last tick
	timeout := n.Config.API.ShutdownTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if e := srv.Shutdown(sctx); e != nil && err == nil {
		err = e
	}
	stopTLS()
	<-tlsDone
	if n.Kafka != nil { // commit what the engine applied, while it still ticks
		if e := n.Kafka.StopConsuming(sctx); e != nil {
			n.Logger.Warn("kafka: stop consuming", "err", e)
		}
	}
	stopEngine() // Run drains the queue with a last tick
	wg.Wait()
	stopJobs()
	jobs.Wait()
	if n.Kafka != nil { // after the last tick, so that its events are flushed too
		if e := n.Kafka.Close(sctx, nil); e != nil {
			n.Logger.Error("kafka: close", "err", e)
		}
	}
	if e := n.closePlugins(context.Background()); e != nil && err == nil {
		err = e
	}
	n.closeAudit()
	if e := n.closeStores(); e != nil && err == nil {
		err = e
	}
	return err
}

// Close releases what NewNode and StartPlugins opened, for a node that will
// not Run (Run closes them itself).
func (n *Node) Close() error {
	err := n.closePlugins(context.Background())
	n.closeAudit()
	if e := n.closeStores(); err == nil {
		err = e
	}
	return err
}

// provisionKafka builds the Kafka edge and registers it as an engine sink
// (before the engine ticks) and as a metrics collector.
func (n *Node) provisionKafka() error {
	kb, err := kafka.New(kafka.Options{Kafka: n.Config.Messaging.Kafka, Node: n.Config.System.Name,
		Engine: n.Engine, Validator: n.Validator, Frame: n.Frame, Logger: n.Logger})
	if err != nil {
		return fmt.Errorf("host: messaging.kafka: %w", err)
	}
	if err := n.Registry.Register(kb.Collector()); err != nil {
		return fmt.Errorf("host: kafka metrics: %w", err)
	}
	n.Engine.AddSink(kb)
	n.Kafka = kb
	return nil
}

// systemEvent forwards a node-level event to system-events when Kafka is
// configured (model activations and plugin failures from host/models).
func (n *Node) systemEvent(typ string, detail map[string]any) {
	if f := n.onSystemEvent; f != nil {
		f(typ, detail)
	}
	if k := n.Kafka; k != nil {
		k.SystemEvent(kafka.SystemEventType(typ), detail)
	}
}
