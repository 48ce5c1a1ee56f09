// Package config is the typed configuration of the cdp binary: one Config
// struct, its defaults in one function (Default), a loader that layers
// defaults < YAML file < environment (CDP_...) < command-line flags with koanf,
// and a validation that runs once, at the edge, and reports every problem with
// the key and the place (file, variable or flag) that set it:
//
//	config: /etc/cdp.yaml: grid.min_size: must be > 0, got -5
//
// Nothing else in cdp reads the environment or a file for settings: the
// command line loads a Config here and passes the value down.
//
// Durations are time.Duration in Go; in YAML, the environment and flags they
// are written as seconds (processing_interval: 0.1) or as Go duration strings
// ("100ms", "2m").
//
// Adding a setting: add the field with a koanf tag and a doc comment stating
// its default, set the default in Default, add a rule to validate if it has a
// range, and document it in deploy/cdp.example.yaml (a test fails until the
// example lists it and agrees with Default).
package config

import "time"

// Config is the whole configuration of a cdp process. The zero value is not
// useful; start from Default (Load does).
type Config struct {
	// System is the process identity, ingest throughput limits and the frame.
	System System `koanf:"system"`
	// Database holds the optional external stores; empty means embedded.
	Database Database `koanf:"database"`
	// Messaging holds the optional Kafka connection; empty means in-process.
	Messaging Messaging `koanf:"messaging"`
	// Compute sizes the micro-batch pipeline.
	Compute Compute `koanf:"compute"`
	// Grid tunes the sharded adaptive broadphase grid.
	Grid Grid `koanf:"grid"`
	// CollisionDetection sets the prediction horizon, risk thresholds and the
	// protected zone of each vehicle class.
	CollisionDetection CollisionDetection `koanf:"collision_detection"`
	// API configures the REST listener.
	API API `koanf:"api"`
	// Plugins selects the Wasm predictor and scorer and limits their sandbox.
	Plugins Plugins `koanf:"plugins"`
	// Logging configures the process log.
	Logging Logging `koanf:"logging"`
	// Security holds TLS and authentication settings.
	Security Security `koanf:"security"`
	// Cluster sets this process's role when several share the world by
	// spatial tiles over Kafka (DESIGN.md, "Scaling out").
	Cluster Cluster `koanf:"cluster"`
}

// Cluster roles.
const (
	RoleAll     = "all"
	RoleIngest  = "ingest"
	RoleCompute = "compute"
	RoleAPI     = "api"
)

// Cluster is the scale-out setting: every ingest and compute node of a
// cluster must share tile_size and hold_time (and the collision_detection
// section); messaging.kafka.consumer_group is the compute nodes' group.
type Cluster struct {
	// Role is what this process does: all (everything in one process, no
	// Kafka needed), ingest (REST -> vehicle-locations routed by tile, with
	// ghost copies and tick markers), compute (consumes its partitions,
	// detects, produces its tiles' risks to collision-risks). api (queries
	// only, no engine) is refused until it can read the stores. Default all.
	Role string `koanf:"role"`
	// NodeID names this node in the cluster (system events, status, the
	// Kafka client id); empty takes system.name. Default "".
	NodeID string `koanf:"node_id"`
	// TileSize is the edge of the spatial tiles in metres (the frame's x and
	// y); the frame's origin is a tile's centre. Default 20000.
	TileSize float64 `koanf:"tile_size"`
	// HoldTime grows the area where a vehicle's copies are sent by its speed
	// x hold_time, so that the node that reports a pair has seen its risk
	// open; written in seconds. Default 70.
	HoldTime time.Duration `koanf:"hold_time"`
}

// System is the process identity, throughput limits and coordinate frame.
type System struct {
	// Name identifies this deployment in logs, metrics and system events.
	// Default "cdp".
	Name string `koanf:"name"`
	// Environment is a free-form label such as development or production.
	// Default "development".
	Environment string `koanf:"environment"`
	// MaxTPS is the sustained ingest rate (vehicle updates per second) the
	// process is sized for. Default 10000.
	MaxTPS int `koanf:"max_tps"`
	// ThrottlingThreshold is the fraction of MaxTPS above which ingest answers
	// 429 with Retry-After; in (0, 1]. Default 0.9.
	ThrottlingThreshold float64 `koanf:"throttling_threshold"`
	// DataDir is where state that must survive a restart is kept:
	// <data_dir>/plugins holds uploaded plugins, their activation history and
	// counters (registry.json); <data_dir>/history.db (bbolt) holds every
	// risk event, the vehicle tracks (one location per vehicle per
	// database.location_interval) and the engine's live vehicles and open
	// risks (saved every database.snapshot_interval and at a clean stop).
	// A kill -9 loses at most the last 200 ms of risk events and the vehicle
	// and open-risk changes since the last snapshot. Default "" (keep
	// everything in memory, write nothing).
	DataDir string `koanf:"data_dir"`
	// Frame is the Cartesian frame the engine computes in.
	Frame Frame `koanf:"frame"`
}

// Frame is the engine's Cartesian frame.
type Frame struct {
	// Type is "enu" (east-north-up metres at Origin) or "ecef". Default "enu".
	Type string `koanf:"type"`
	// Origin is the ENU tangent point. Any origin gives true 3D distances (ENU
	// is a rotation and translation of ECEF, not a map projection); one near
	// the traffic keeps coordinates small. Default 51.5, -0.12, 0 (London).
	// `cdp replay --origin auto` takes it from the recorded data instead.
	Origin Origin `koanf:"origin"`
}

// Origin is a WGS84 position.
type Origin struct {
	// Lat is the latitude in degrees, in [-90, 90]. Default 51.5.
	Lat float64 `koanf:"lat"`
	// Lon is the longitude in degrees, in [-180, 180]. Default -0.12.
	Lon float64 `koanf:"lon"`
	// Alt is the height above the WGS84 ellipsoid in metres. Default 0.
	Alt float64 `koanf:"alt"`
}

// Database holds the optional external stores. An empty DSN or address means
// the embedded in-memory store is used instead.
type Database struct {
	// Postgres is the optional PostgreSQL (TimescaleDB) store.
	Postgres Postgres `koanf:"postgres"`
	// Redis is the optional Redis for shared state and fan-out.
	Redis Redis `koanf:"redis"`
	// RetentionDays is how long risk events and vehicle locations are kept
	// (by data time), in the embedded store and in PostgreSQL; a job
	// removes older ones every hour. 0 keeps everything. Default 30.
	RetentionDays int `koanf:"retention_days"`
	// LocationInterval keeps at most one stored location per vehicle per
	// interval of data time (risk events are never downsampled); 0 keeps
	// every applied update. Default 10s.
	LocationInterval time.Duration `koanf:"location_interval"`
	// SnapshotInterval is how often the live vehicles and open risks are
	// saved to the store (system.data_dir), bounding what a kill -9 loses of
	// them; a clean stop always saves. Default 10s.
	SnapshotInterval time.Duration `koanf:"snapshot_interval"`
}

// Postgres configures the PostgreSQL store.
type Postgres struct {
	// DSN is a pgx connection string (postgres://user@host:5432/cdp). Prefer
	// setting it from the environment (CDP_DATABASE_POSTGRES_DSN) so the
	// password stays out of files. When set, cdp applies the schema
	// migrations the database lacks at start (`cdp db migrate` does it
	// alone), writes every risk event (never downsampled), the risk
	// episodes and the vehicle locations (one per vehicle per
	// database.location_interval) in COPY batches, and serves the history
	// from it. A server unreachable at start stops the start; later, writes
	// wait in a bounded queue and /readyz reports not ready. Default ""
	// (embedded store).
	DSN string `koanf:"dsn"`
	// MaxConns caps the connection pool; 0 lets pgx choose. Default 0.
	MaxConns int `koanf:"max_conns"`
}

// Redis configures the Redis connection.
type Redis struct {
	// Addr is host:port of the Redis server. Default "" (no Redis). Not
	// available in this build yet: cdp refuses to start when it is set.
	Addr string `koanf:"addr"`
	// Username for Redis ACL authentication. Default "".
	Username string `koanf:"username"`
	// Password for Redis authentication; prefer CDP_DATABASE_REDIS_PASSWORD.
	// Default "".
	Password string `koanf:"password"`
	// DB is the Redis database number. Default 0.
	DB int `koanf:"db"`
}

// Messaging holds the optional message bus.
type Messaging struct {
	// Kafka is the optional Kafka connection.
	Kafka Kafka `koanf:"kafka"`
}

// Kafka configures the Kafka client (franz-go): the consumer of
// vehicle-locations and the producer of collision-risks, system-events and
// dead letters (package api/kafka). Secrets come from files or the
// environment, never from the YAML file.
type Kafka struct {
	// BootstrapServers lists host:port seed brokers. Default [] (Kafka off:
	// in-process queues are used).
	BootstrapServers []string `koanf:"bootstrap_servers"`
	// ClientID names this client to the brokers. Default "cdp".
	ClientID string `koanf:"client_id"`
	// ConsumerGroup is the group the compute nodes join. Default "cdp-compute".
	ConsumerGroup string `koanf:"consumer_group"`
	// StartOffset is where a group without committed offsets starts reading
	// a partition: "earliest" or "latest" (Kafka's auto.offset.reset). A
	// group that has committed resumes from its commits. Default "latest".
	StartOffset string `koanf:"start_offset"`
	// Topics names the topics cdp reads and writes.
	Topics Topics `koanf:"topics"`
	// Consumer tunes the vehicle-locations consumer.
	Consumer KafkaConsumer `koanf:"consumer"`
	// Producer tunes the producer of risk, system and dead-letter records.
	Producer KafkaProducer `koanf:"producer"`
	// TLS encrypts the connections to the brokers.
	TLS KafkaTLS `koanf:"tls"`
	// SASL authenticates to the brokers.
	SASL KafkaSASL `koanf:"sasl"`
}

// Topics names the Kafka topics.
type Topics struct {
	// VehicleLocations carries vehicle updates. Default "vehicle-locations".
	VehicleLocations string `koanf:"vehicle_locations"`
	// CollisionRisks carries risk events. Default "collision-risks".
	CollisionRisks string `koanf:"collision_risks"`
	// SystemEvents carries lifecycle and admin events. Default "system-events".
	SystemEvents string `koanf:"system_events"`
	// DeadLetter receives the vehicle-locations records that fail validation,
	// with the reason in headers. Default "vehicle-locations-dlq".
	DeadLetter string `koanf:"dead_letter"`
}

// KafkaConsumer tunes the vehicle-locations consumer.
type KafkaConsumer struct {
	// MaxPollRecords bounds the records taken per poll and submitted to the
	// engine at once. Default 10000.
	MaxPollRecords int `koanf:"max_poll_records"`
	// CommitInterval is how often the offsets of records already applied to
	// the engine's state are committed; written in seconds, at least 0.1.
	// Default 1.
	CommitInterval time.Duration `koanf:"commit_interval"`
	// FetchMaxBytes bounds one fetch response (and so, with the engine's
	// queue, what is buffered while the engine is saturated). Default
	// 52428800 (50 MiB).
	FetchMaxBytes int `koanf:"fetch_max_bytes"`
	// SessionTimeout is how long the group waits for a silent member before
	// moving its partitions; written in seconds. Default 45.
	SessionTimeout time.Duration `koanf:"session_timeout"`
}

// KafkaProducer tunes the producer.
type KafkaProducer struct {
	// Acks is how many replicas must have a record before it counts as
	// delivered: "all", "leader" or "none". Default "all".
	Acks string `koanf:"acks"`
	// Idempotent makes retries write each record once per partition
	// (requires acks "all"). Default true.
	Idempotent bool `koanf:"idempotent"`
	// Linger is how long a partition waits for more records before sending a
	// batch; written in seconds. Default 0.005 (5ms).
	Linger time.Duration `koanf:"linger"`
	// BatchMaxBytes bounds one record batch. Default 1000000.
	BatchMaxBytes int `koanf:"batch_max_bytes"`
	// MaxBufferedRecords bounds the records waiting for delivery, for
	// instance while the cluster is away. When it is reached, publishing
	// blocks: the engine's tick waits, its queue fills, and ingest slows
	// (REST answers 429, the consumer stops fetching); nothing is dropped.
	// Default 100000.
	MaxBufferedRecords int `koanf:"max_buffered_records"`
	// DeliveryTimeout gives up on a record not delivered for this long (the
	// failure is counted and logged with the record's id); 0 retries until
	// delivered. Written in seconds. Default 0.
	DeliveryTimeout time.Duration `koanf:"delivery_timeout"`
}

// KafkaTLS encrypts the broker connections.
type KafkaTLS struct {
	// Enabled turns TLS on (with the system roots unless CAFile is set).
	// Default false.
	Enabled bool `koanf:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the brokers' certificates.
	// Default "" (the system roots).
	CAFile string `koanf:"ca_file"`
	// CertFile is a PEM client certificate for mutual TLS; set it with
	// KeyFile or not at all. Default "".
	CertFile string `koanf:"cert_file"`
	// KeyFile is the PEM private key of CertFile. Default "".
	KeyFile string `koanf:"key_file"`
	// ServerName overrides the name checked in the brokers' certificates.
	// Default "" (the broker host).
	ServerName string `koanf:"server_name"`
}

// KafkaSASL authenticates to the brokers.
type KafkaSASL struct {
	// Mechanism is "" (none), "plain", "scram-sha-256" or "scram-sha-512".
	// Default "".
	Mechanism string `koanf:"mechanism"`
	// Username is the SASL user. Default "".
	Username string `koanf:"username"`
	// PasswordFile holds the password (its first line). Default "".
	PasswordFile string `koanf:"password_file"`
	// Password is the password itself, accepted only from the environment
	// (CDP_MESSAGING_KAFKA_SASL_PASSWORD) or --set, never from a file.
	// Default "".
	Password string `koanf:"password"`
}

// Compute sizes the micro-batch pipeline.
type Compute struct {
	// MaxWorkers is the number of prediction and scoring workers (one plugin
	// instance each). Default 8.
	MaxWorkers int `koanf:"max_workers"`
	// BatchSize is the number of vehicles or pairs per plugin call. Default 100.
	BatchSize int `koanf:"batch_size"`
	// ProcessingInterval is the longest the pipeline goes without a tick;
	// written in seconds. A tick starts as soon as updates wait and the
	// previous tick is done (the updates that arrive during a tick make the
	// next one's batch), so at light load an update is scored within a
	// tick's compute time. Default 0.1 (100ms).
	ProcessingInterval time.Duration `koanf:"processing_interval"`
	// MaxPairsPerTick is the scoring budget of one tick: once a tick has found
	// this many candidate pairs, the updated vehicles it has not yet queried
	// go to the next tick (counted as deferred), so that a tick stays short
	// whatever lands in it. Default 4000000 (about 0.2 s of one core).
	MaxPairsPerTick int `koanf:"max_pairs_per_tick"`
	// MaxQueueDelay throttles ingest when ticks fall behind: while the
	// oldest accepted update has waited longer than this for a tick, ingest
	// answers 429 (Retry-After) and the Kafka consumer waits, so that the
	// ingest-to-risk latency stays bounded under a slow model or overload;
	// written in seconds, 0 turns it off. Default 5.
	MaxQueueDelay time.Duration `koanf:"max_queue_delay"`
}

// Grid tunes the broadphase grid. Sizes are cell edges in metres.
type Grid struct {
	// InitialSize is the cell edge at start, in [MinSize, MaxSize]. Default 100.
	InitialSize float64 `koanf:"initial_size"`
	// MinSize is the smallest cell edge the grid adapts to. Default 10.
	MinSize float64 `koanf:"min_size"`
	// MaxSize is the largest cell edge the grid adapts to. Default 1000.
	MaxSize float64 `koanf:"max_size"`
	// AdjustmentThreshold is the relative deviation of occupancy from
	// TargetOccupancy that triggers a resize; in (0, 1]. Default 0.8.
	AdjustmentThreshold float64 `koanf:"adjustment_threshold"`
	// AdjustmentFactor is the fraction by which a resize moves the cell edge;
	// in (0, 1). Default 0.5.
	AdjustmentFactor float64 `koanf:"adjustment_factor"`
	// TargetOccupancy is the desired mean number of boxes per occupied cell.
	// Default 4.
	TargetOccupancy float64 `koanf:"target_occupancy"`
	// Shards is the number of independently locked grid shards. Default 64.
	Shards int `koanf:"shards"`
}

// CollisionDetection sets the prediction horizon, thresholds and classes.
type CollisionDetection struct {
	// PredictionTime is the horizon over which trajectories are predicted and
	// conflicts searched; written in seconds. Default 30.
	PredictionTime time.Duration `koanf:"prediction_time"`
	// MaxDistance is the separation margin in metres: every swept box grows by
	// half of it, so two vehicles whose protected zones could touch are always
	// candidates. It must cover every class: sqrt(horizontal^2 + vertical^2) <=
	// max_distance (checked at start). Default 200.
	MaxDistance float64 `koanf:"max_distance"`
	// MinRiskLevel is the risk at or above which a risk is opened; in [0, 1].
	// Default 0.3.
	MinRiskLevel float64 `koanf:"min_risk_level"`
	// VehicleTTL is how long a vehicle without updates is kept; written in
	// seconds. Default 30.
	VehicleTTL time.Duration `koanf:"vehicle_ttl"`
	// Hysteresis is how far below MinRiskLevel a risk must fall to resolve; in
	// [0, MinRiskLevel]. Default 0.05.
	Hysteresis float64 `koanf:"hysteresis"`
	// UpdateRiskDelta is the change of risk that emits an "updated" event; in
	// [0, 1]. Default 0.1.
	UpdateRiskDelta float64 `koanf:"update_risk_delta"`
	// UpdateTCADelta is the change of time of closest approach that emits an
	// "updated" event; written in seconds. Default 2.
	UpdateTCADelta time.Duration `koanf:"update_tca_delta"`
	// ResolveAfter is how long a risk must stay below min_risk_level -
	// hysteresis before it resolves, in data time, so that a pair at the
	// edge of its zone does not flap; written in seconds. Default 10.
	ResolveAfter time.Duration `koanf:"resolve_after"`
	// MaxFutureSkew is how far ahead of the server clock an update's
	// timestamp may be before it is rejected; written in seconds. Default 5.
	MaxFutureSkew time.Duration `koanf:"max_future_skew"`
	// MaxOpenRisks bounds the risks open at once (about 200 bytes each). Past
	// it cdp keeps the highest risks: a new pair riskier than the lowest open
	// risk takes its place (that one resolves with reason "capacity"), the
	// rest are counted as untracked, and /system/status, the metrics and a
	// system event say so until the traffic thins. Default 100000.
	MaxOpenRisks int `koanf:"max_open_risks"`
	// Classes maps a vehicle class name (lower case letters, digits, '_' and
	// '-') to its protected zone. A vehicle without a class uses "default",
	// which always exists. Default {"default": {horizontal: 50, vertical: 25}}.
	Classes map[string]Class `koanf:"classes"`
}

// Class is a vehicle class's protected zone: a cylinder of half-widths
// Horizontal (radius) and Vertical (half-height) around the vehicle.
type Class struct {
	// Horizontal is the protected radius in metres, > 0. Default (class
	// "default") 50.
	Horizontal float64 `koanf:"horizontal"`
	// Vertical is the protected half-height in metres, > 0. Default (class
	// "default") 25.
	Vertical float64 `koanf:"vertical"`
	// Radius is the hard-body radius in metres added to both, >= 0. Default 0.
	Radius float64 `koanf:"radius"`
	// MaxSpeed is the class's plausible top speed in m/s, >= 0. A plugin
	// predictor's box that reaches farther from its vehicle than
	// prediction_time x max_speed (or 1.5 x the vehicle's own speed, when
	// more) plus margins fails the batch (the builtin predicts it; the
	// failure counts toward the plugin's breaker). Default 0: 1500 m/s, the
	// ingest speed bound.
	MaxSpeed float64 `koanf:"max_speed"`
	// VehicleTTL is how long a vehicle of this class without updates is kept
	// (and its risks held open) before it expires as "lost"; written in
	// seconds. Ships report every few minutes: give them minutes here, not
	// the drones' seconds. Default 0: collision_detection.vehicle_ttl.
	VehicleTTL time.Duration `koanf:"vehicle_ttl"`
}

// API configures the REST listener.
type API struct {
	// Host is the listen address; "" or "0.0.0.0" listens on every
	// interface. Default "0.0.0.0".
	Host string `koanf:"host"`
	// Port is the listen port; 0 picks a free one. Default 8080.
	Port int `koanf:"port"`
	// CORSOrigins lists the origins allowed by CORS ("*" for any). Default []
	// (no cross-origin access).
	CORSOrigins []string `koanf:"cors_origins"`
	// MaxBatch is the most records one ingest request may carry (413 above).
	// Default 10000.
	MaxBatch int `koanf:"max_batch"`
	// MaxBodyBytes is the largest request body accepted. Default 16777216
	// (16 MiB).
	MaxBodyBytes int `koanf:"max_body_bytes"`
	// ReadTimeout bounds reading a request; 0 means none; written in seconds.
	// Default 10.
	ReadTimeout time.Duration `koanf:"read_timeout"`
	// WriteTimeout bounds writing one response (the live stream must not be cut by it); 0
	// means none; written in seconds. Default 10.
	WriteTimeout time.Duration `koanf:"write_timeout"`
	// IdleTimeout closes idle keep-alive connections; 0 means none; written in
	// seconds. Default 60.
	IdleTimeout time.Duration `koanf:"idle_timeout"`
	// ShutdownTimeout bounds the graceful drain on stop; written in seconds.
	// Default 15.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// DefaultLimit is the page size of GET /api/v1/risks and /vehicles when
	// a request names no limit. Default 100.
	DefaultLimit int `koanf:"default_limit"`
	// MaxLimit is the largest page a list request may ask for (400 above);
	// it also caps the risk history's pages and the live stream's initial
	// snapshot. Default 10000.
	MaxLimit int `koanf:"max_limit"`
	// Stream configures the live risk stream (GET /api/v1/risks/stream).
	Stream Stream `koanf:"stream"`
	// Admin configures the admin endpoints (plugin upload, state import).
	Admin Admin `koanf:"admin"`
}

// Stream configures the live risk stream.
type Stream struct {
	// Buffer is the number of recent risk events the server keeps for the
	// stream's clients (shared by all): a client may fall this far behind,
	// or reconnect with Last-Event-ID this far back, without losing events;
	// beyond it the events it missed are counted and it is told which. About
	// 300 bytes per event. Default 100000.
	Buffer int `koanf:"buffer"`
	// MaxClients caps the concurrent stream clients (503 above). Default
	// 1000.
	MaxClients int `koanf:"max_clients"`
	// Heartbeat is the interval of the comment lines that keep an idle
	// stream open through proxies; written in seconds. Default 15.
	Heartbeat time.Duration `koanf:"heartbeat"`
}

// Admin configures the admin API.
type Admin struct {
	// Enabled turns the admin endpoints on. Default false.
	Enabled bool `koanf:"enabled"`
	// Allow lists the client networks (CIDR) that may call them. Default
	// ["127.0.0.1/32", "::1/128"] (this machine only).
	Allow []string `koanf:"allow"`
}

// Plugins selects the models and limits their sandbox.
type Plugins struct {
	// Predictor is the trajectory model; an empty path means the builtin
	// constant-velocity predictor.
	Predictor Plugin `koanf:"predictor"`
	// Scorer is the risk model; an empty path means the builtin
	// closest-point-of-approach scorer.
	Scorer Plugin `koanf:"scorer"`
	// Limits bound every Wasm plugin.
	Limits Limits `koanf:"limits"`
	// TrustedKeys are PEM Ed25519 public keys whose signatures
	// (`cdp plugin sign`) are accepted; a module that comes with a
	// signature must verify against one of them. Default [].
	TrustedKeys []string `koanf:"trusted_keys"`
	// RequireSignature refuses every module (upload, or plugins.*.path at
	// start, whose signature is PATH.sig) without a valid signature by a
	// trusted key. Default false.
	RequireSignature bool `koanf:"require_signature"`
}

// Plugin selects one Wasm model.
type Plugin struct {
	// Path is the .wasm file loaded at start. Default "" (the builtin model).
	Path string `koanf:"path"`
	// Config is an opaque JSON object handed to the plugin at
	// initialisation. Default {} (empty).
	Config map[string]any `koanf:"config"`
}

// Limits bound every Wasm plugin.
type Limits struct {
	// MemoryPages caps a plugin's linear memory in 64 KiB pages, in
	// [1, 65536]. Default 512 (32 MiB).
	MemoryPages int `koanf:"memory_pages"`
	// BatchTimeout bounds one batch call; written in seconds. Default 1.
	BatchTimeout time.Duration `koanf:"batch_timeout"`
	// MaxModuleBytes is the largest module accepted. Default 33554432 (32 MiB).
	MaxModuleBytes int `koanf:"max_module_bytes"`
	// InitTimeout bounds a plugin's initialisation (_initialize, init export);
	// written in seconds. Default 10.
	InitTimeout time.Duration `koanf:"init_timeout"`
	// MaxCallDepth bounds a plugin's call stack, in frames of up to 16
	// parameters and locals (a larger frame counts once per 16), in
	// [1, 1073741824]; a deeper call traps. Default 10000.
	MaxCallDepth int `koanf:"max_call_depth"`
}

// Logging configures the process log (log/slog).
type Logging struct {
	// Level is debug, info, warn or error. Default "info".
	Level string `koanf:"level"`
	// Format is text or json. Default "text".
	Format string `koanf:"format"`
}

// Security holds TLS and authentication settings.
type Security struct {
	// TLS serves the API over HTTPS when both files are set.
	TLS TLS `koanf:"tls"`
	// JWT configures bearer-token authentication.
	JWT JWT `koanf:"jwt"`
}

// TLS serves the API (and the admin API) over HTTPS only, TLS 1.2 or newer.
type TLS struct {
	// CertFile is a PEM certificate chain, leaf first. Default "" (plain
	// HTTP).
	CertFile string `koanf:"cert_file"`
	// KeyFile is the PEM private key of CertFile. Default "".
	KeyFile string `koanf:"key_file"`
	// ClientCAFile is a PEM bundle of the CAs that sign client
	// certificates: with it every client must present one (mutual TLS).
	// Default "" (no client certificates).
	ClientCAFile string `koanf:"client_ca_file"`
	// WatchInterval is how often the files are checked for a change (a
	// renewed certificate is then served without a restart; SIGHUP reloads
	// at once); 0 checks only on SIGHUP. Written in seconds. Default 10.
	WatchInterval time.Duration `koanf:"watch_interval"`
}

// JWT configures bearer-token authentication: with Enabled, every call but
// the health checks (and /openapi.json) needs a token whose roles claim
// holds ingest, read or admin.
type JWT struct {
	// Enabled requires a valid token on every API call but the open ones.
	// Default false.
	Enabled bool `koanf:"enabled"`
	// SecretFile holds the HMAC secret for HS256/384/512, at least 32 bytes
	// (secrets come from files, never from the YAML itself). Default "".
	SecretFile string `koanf:"secret_file"`
	// PublicKeyFiles are PEM public keys or certificates (RSA, ECDSA,
	// Ed25519); a key's kid is its file name without the extension.
	// Default [].
	PublicKeyFiles []string `koanf:"public_key_files"`
	// JWKSFile is a JSON Web Key Set file of public keys. Default "".
	JWKSFile string `koanf:"jwks_file"`
	// Algorithms is the allow-list of token algorithms (HS256/384/512,
	// RS*, PS*, ES256/384/512, EdDSA; never none); each needs a key of its
	// kind. Required when Enabled. Default [].
	Algorithms []string `koanf:"algorithms"`
	// Issuer is the required "iss" claim; empty accepts any. Default "".
	Issuer string `koanf:"issuer"`
	// Audience is the required "aud" claim; empty accepts any. Default "".
	Audience string `koanf:"audience"`
	// ClockSkew is the leeway on exp, nbf and iat, in [0, 5m]; written in
	// seconds. Default 30.
	ClockSkew time.Duration `koanf:"clock_skew"`
	// RolesClaim is the claim holding the roles (an array, or a string
	// separated by spaces or commas); a dotted path reaches into objects
	// ("realm_access.roles"). Default "roles".
	RolesClaim string `koanf:"roles_claim"`
	// PublicMetrics serves /metrics without a token, for scrapers that
	// cannot send one. Default false (the read role).
	PublicMetrics bool `koanf:"public_metrics"`
}

// DefaultClass is the class of a vehicle that names none; it always exists.
const DefaultClass = "default"

// Default returns the configuration cdp runs with when nothing is set: one
// process, embedded stores, no Kafka, the seed's example values. Every
// default is also stated on its field and in deploy/cdp.example.yaml.
func Default() Config {
	return Config{
		System: System{
			Name:                "cdp",
			Environment:         "development",
			MaxTPS:              10000,
			ThrottlingThreshold: 0.9,
			DataDir:             "",
			Frame: Frame{
				Type:   "enu",
				Origin: Origin{Lat: 51.5, Lon: -0.12, Alt: 0},
			},
		},
		Database: Database{
			Postgres: Postgres{DSN: "", MaxConns: 0},
			Redis:    Redis{Addr: "", DB: 0},

			RetentionDays:    30,
			LocationInterval: 10 * time.Second,
			SnapshotInterval: 10 * time.Second,
		},
		Messaging: Messaging{Kafka: Kafka{
			BootstrapServers: []string{},
			ClientID:         "cdp",
			ConsumerGroup:    "cdp-compute",
			StartOffset:      "latest",
			Topics: Topics{
				VehicleLocations: "vehicle-locations",
				CollisionRisks:   "collision-risks",
				SystemEvents:     "system-events",
				DeadLetter:       "vehicle-locations-dlq",
			},
			Consumer: KafkaConsumer{
				MaxPollRecords: 10000,
				CommitInterval: time.Second,
				FetchMaxBytes:  50 << 20,
				SessionTimeout: 45 * time.Second,
			},
			Producer: KafkaProducer{
				Acks:               "all",
				Idempotent:         true,
				Linger:             5 * time.Millisecond,
				BatchMaxBytes:      1000000,
				MaxBufferedRecords: 100000,
				DeliveryTimeout:    0,
			},
		}},
		Compute: Compute{
			MaxWorkers:         8,
			BatchSize:          100,
			ProcessingInterval: 100 * time.Millisecond,
			MaxPairsPerTick:    4_000_000,
			MaxQueueDelay:      5 * time.Second,
		},
		Grid: Grid{
			InitialSize:         100,
			MinSize:             10,
			MaxSize:             1000,
			AdjustmentThreshold: 0.8,
			AdjustmentFactor:    0.5,
			TargetOccupancy:     4,
			Shards:              64,
		},
		CollisionDetection: CollisionDetection{
			PredictionTime:  30 * time.Second,
			MaxDistance:     200,
			MinRiskLevel:    0.3,
			VehicleTTL:      30 * time.Second,
			Hysteresis:      0.05,
			UpdateRiskDelta: 0.1,
			UpdateTCADelta:  2 * time.Second,
			ResolveAfter:    10 * time.Second,
			MaxFutureSkew:   5 * time.Second,
			MaxOpenRisks:    100_000,
			Classes: map[string]Class{
				DefaultClass: {Horizontal: 50, Vertical: 25},
			},
		},
		API: API{
			Host:            "0.0.0.0",
			Port:            8080,
			CORSOrigins:     []string{},
			MaxBatch:        10000,
			MaxBodyBytes:    16 << 20,
			ReadTimeout:     10 * time.Second,
			WriteTimeout:    10 * time.Second,
			IdleTimeout:     60 * time.Second,
			ShutdownTimeout: 15 * time.Second,
			DefaultLimit:    100,
			MaxLimit:        10000,
			Stream:          Stream{Buffer: 100_000, MaxClients: 1000, Heartbeat: 15 * time.Second},
			Admin: Admin{
				Enabled: false,
				Allow:   []string{"127.0.0.1/32", "::1/128"},
			},
		},
		Plugins: Plugins{
			Predictor:   Plugin{Config: map[string]any{}},
			Scorer:      Plugin{Config: map[string]any{}},
			TrustedKeys: []string{},
			Limits: Limits{
				MemoryPages:    512,
				BatchTimeout:   time.Second,
				MaxModuleBytes: 32 << 20,
				InitTimeout:    10 * time.Second,
				MaxCallDepth:   10000,
			},
		},
		Logging: Logging{Level: "info", Format: "text"},
		Security: Security{TLS: TLS{WatchInterval: 10 * time.Second}, JWT: JWT{
			PublicKeyFiles: []string{},
			Algorithms:     []string{},
			ClockSkew:      30 * time.Second,
			RolesClaim:     "roles",
		}},
		Cluster: Cluster{Role: RoleAll, TileSize: 20_000, HoldTime: 70 * time.Second},
	}
}
