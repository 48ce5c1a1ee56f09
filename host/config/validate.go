package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/security"
)

// Validate checks c as start would and returns every problem as Errors, or
// nil. Load already calls it; call it on a Config built in code. Errors from
// Validate carry no source (the value was not read from anywhere).
func (c Config) Validate() error {
	if errs := validate(&c, nil); len(errs) > 0 {
		return errs
	}
	return nil
}

type checker struct {
	prov map[string]string
	errs Errors
}

// source names where keys came from: the non-default sources of the keys,
// joined, or "defaults" if they all kept their defaults.
func (ch *checker) source(keys ...string) string {
	if ch.prov == nil {
		return ""
	}
	var out []string
	for _, k := range keys {
		s := ch.sourceOf(k)
		if s == "" || s == sourceDefaults {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == s
		}
		if !dup {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return sourceDefaults
	}
	return strings.Join(out, ", ")
}

// sourceOf finds the source of one key: its own, else that of a value set
// below it (a map entry), else its parent's (an unset field of a class that a
// file defined). A list index ("[0]") is dropped.
func (ch *checker) sourceOf(key string) string {
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	for k := key; k != ""; {
		if s, ok := ch.prov[k]; ok && (s != sourceDefaults || k == key) {
			return s
		}
		below := make([]string, 0, 4)
		for pk, ps := range ch.prov {
			if strings.HasPrefix(pk, k+".") && ps != sourceDefaults {
				below = append(below, pk)
			}
		}
		if len(below) > 0 {
			sort.Strings(below)
			return ch.prov[below[0]]
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return sourceDefaults
}

// fail records a problem with key; related keys only contribute their source.
func (ch *checker) fail(reason error, key string, related []string, format string, args ...any) {
	ch.errs = append(ch.errs, &FieldError{
		Source: ch.source(append([]string{key}, related...)...),
		Key:    key,
		Reason: reason,
		Msg:    fmt.Sprintf(format, args...),
	})
}

func (ch *checker) positiveInt(key string, v int) {
	if v <= 0 {
		ch.fail(ErrOutOfRange, key, nil, "must be > 0, got %d", v)
	}
}

func (ch *checker) nonNegativeInt(key string, v int) {
	if v < 0 {
		ch.fail(ErrOutOfRange, key, nil, "must be >= 0, got %d", v)
	}
}

func (ch *checker) positive(key string, v float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		ch.fail(ErrOutOfRange, key, nil, "must be > 0, got %g", v)
	}
}

func (ch *checker) nonNegative(key string, v float64) {
	if !(v >= 0) || math.IsInf(v, 0) {
		ch.fail(ErrOutOfRange, key, nil, "must be >= 0, got %g", v)
	}
}

// between checks lo <= v <= hi, or lo < v / v < hi when open.
func (ch *checker) between(key string, v, lo, hi float64, openLo, openHi bool) {
	okLo := v > lo || (!openLo && v == lo)
	okHi := v < hi || (!openHi && v == hi)
	if !okLo || !okHi {
		l, r := "[", "]"
		if openLo {
			l = "("
		}
		if openHi {
			r = ")"
		}
		ch.fail(ErrOutOfRange, key, nil, "must be in %s%g, %g%s, got %g", l, lo, hi, r, v)
	}
}

func (ch *checker) positiveDuration(key string, d time.Duration) {
	if d <= 0 {
		ch.fail(ErrOutOfRange, key, nil, "must be > 0, got %s", seconds2(d))
	}
}

func (ch *checker) nonNegativeDuration(key string, d time.Duration) {
	if d < 0 {
		ch.fail(ErrOutOfRange, key, nil, "must be >= 0, got %s", seconds2(d))
	}
}

func (ch *checker) oneOf(key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ch.fail(ErrOutOfRange, key, nil, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
}

func (ch *checker) hostPort(key, v string) {
	host, port, err := net.SplitHostPort(v)
	if err != nil || host == "" || port == "" {
		ch.fail(ErrOutOfRange, key, nil, "want host:port, got %q", v)
	}
}

func (ch *checker) regularFile(key, path string) {
	if path == "" {
		return
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		ch.fail(ErrOutOfRange, key, nil, "cannot use %q: %v", path, unwrapPath(err))
	case !st.Mode().IsRegular():
		ch.fail(ErrOutOfRange, key, nil, "%q is not a regular file", path)
	}
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func seconds2(d time.Duration) string { return fmt.Sprintf("%gs", d.Seconds()) }

// validate runs every rule; prov (may be nil) names the source of each key.
// Rules are grouped by section in the order of the Config struct.
func validate(c *Config, prov map[string]string) Errors {
	ch := &checker{prov: prov}

	s := c.System
	if strings.TrimSpace(s.Name) == "" {
		ch.fail(ErrOutOfRange, "system.name", nil, "must not be empty")
	}
	ch.positiveInt("system.max_tps", s.MaxTPS)
	ch.between("system.throttling_threshold", s.ThrottlingThreshold, 0, 1, true, false)
	ch.oneOf("system.frame.type", s.Frame.Type, "enu", "ecef")
	ch.between("system.frame.origin.lat", s.Frame.Origin.Lat, -90, 90, false, false)
	ch.between("system.frame.origin.lon", s.Frame.Origin.Lon, -180, 180, false, false)
	ch.between("system.frame.origin.alt", s.Frame.Origin.Alt, -11000, 1e6, false, false)

	d := c.Database
	ch.nonNegativeInt("database.postgres.max_conns", d.Postgres.MaxConns)
	if d.Postgres.DSN != "" && !strings.Contains(d.Postgres.DSN, "://") && !strings.Contains(d.Postgres.DSN, "=") {
		ch.fail(ErrOutOfRange, "database.postgres.dsn", nil, "want a URL (postgres://...) or key=value pairs")
	}
	if d.Redis.Addr != "" {
		ch.hostPort("database.redis.addr", d.Redis.Addr)
	}
	ch.nonNegativeInt("database.redis.db", d.Redis.DB)
	ch.nonNegativeInt("database.retention_days", d.RetentionDays)
	ch.nonNegativeDuration("database.location_interval", d.LocationInterval)
	ch.positiveDuration("database.snapshot_interval", d.SnapshotInterval)

	k := c.Messaging.Kafka
	for i, b := range k.BootstrapServers {
		ch.hostPort(fmt.Sprintf("messaging.kafka.bootstrap_servers[%d]", i), b)
	}
	if k.ClientID == "" {
		ch.fail(ErrOutOfRange, "messaging.kafka.client_id", nil, "must not be empty")
	}
	if k.ConsumerGroup == "" {
		ch.fail(ErrOutOfRange, "messaging.kafka.consumer_group", nil, "must not be empty")
	}
	for _, t := range []struct{ key, topic string }{
		{"messaging.kafka.topics.vehicle_locations", k.Topics.VehicleLocations},
		{"messaging.kafka.topics.collision_risks", k.Topics.CollisionRisks},
		{"messaging.kafka.topics.system_events", k.Topics.SystemEvents},
		{"messaging.kafka.topics.dead_letter", k.Topics.DeadLetter},
	} {
		if !validTopic(t.topic) {
			ch.fail(ErrOutOfRange, t.key, nil, "want a Kafka topic name (1-249 of a-z A-Z 0-9 . _ -), got %q", t.topic)
		}
	}
	validateKafka(ch, k)
	validateCluster(ch, c)

	cp := c.Compute
	ch.positiveInt("compute.max_workers", cp.MaxWorkers)
	ch.positiveInt("compute.batch_size", cp.BatchSize)
	ch.positiveDuration("compute.processing_interval", cp.ProcessingInterval)
	ch.nonNegativeDuration("compute.max_queue_delay", cp.MaxQueueDelay)
	ch.positiveInt("compute.max_pairs_per_tick", cp.MaxPairsPerTick)

	g := c.Grid
	ch.positive("grid.min_size", g.MinSize)
	ch.positive("grid.initial_size", g.InitialSize)
	ch.positive("grid.max_size", g.MaxSize)
	if g.MinSize > 0 && g.MaxSize > 0 && g.MinSize > g.MaxSize {
		ch.fail(ErrConflict, "grid.min_size", []string{"grid.max_size"},
			"must be <= grid.max_size (%g), got %g", g.MaxSize, g.MinSize)
	} else if g.InitialSize > 0 && g.MinSize > 0 && g.MaxSize > 0 && (g.InitialSize < g.MinSize || g.InitialSize > g.MaxSize) {
		ch.fail(ErrConflict, "grid.initial_size", []string{"grid.min_size", "grid.max_size"},
			"must be within grid.min_size .. grid.max_size (%g .. %g), got %g", g.MinSize, g.MaxSize, g.InitialSize)
	}
	ch.between("grid.adjustment_threshold", g.AdjustmentThreshold, 0, 1, true, false)
	ch.between("grid.adjustment_factor", g.AdjustmentFactor, 0, 1, true, true)
	ch.positive("grid.target_occupancy", g.TargetOccupancy)
	ch.between("grid.shards", float64(g.Shards), 1, 4096, false, false)

	cd := c.CollisionDetection
	ch.positiveDuration("collision_detection.prediction_time", cd.PredictionTime)
	ch.positive("collision_detection.max_distance", cd.MaxDistance)
	ch.between("collision_detection.min_risk_level", cd.MinRiskLevel, 0, 1, false, false)
	ch.positiveDuration("collision_detection.vehicle_ttl", cd.VehicleTTL)
	ch.between("collision_detection.hysteresis", cd.Hysteresis, 0, 1, false, true)
	if cd.Hysteresis > cd.MinRiskLevel && cd.MinRiskLevel >= 0 && cd.Hysteresis < 1 {
		ch.fail(ErrConflict, "collision_detection.hysteresis", []string{"collision_detection.min_risk_level"},
			"must be <= collision_detection.min_risk_level (%g), got %g", cd.MinRiskLevel, cd.Hysteresis)
	}
	ch.between("collision_detection.update_risk_delta", cd.UpdateRiskDelta, 0, 1, false, false)
	ch.nonNegativeDuration("collision_detection.update_tca_delta", cd.UpdateTCADelta)
	ch.nonNegativeDuration("collision_detection.resolve_after", cd.ResolveAfter)
	ch.nonNegativeDuration("collision_detection.max_future_skew", cd.MaxFutureSkew)
	ch.between("collision_detection.max_open_risks", float64(cd.MaxOpenRisks), 1, 1<<28, false, false)
	if _, ok := cd.Classes[DefaultClass]; !ok {
		ch.fail(ErrOutOfRange, "collision_detection.classes", nil, "must define the class %q", DefaultClass)
	}
	names := make([]string, 0, len(cd.Classes))
	for name := range cd.Classes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		cl := cd.Classes[name]
		key := "collision_detection.classes." + name
		if !validName(name) {
			ch.fail(ErrOutOfRange, key, nil, "name %q: use lower-case letters, digits, '_' and '-'", name)
		}
		ch.positive(key+".horizontal", cl.Horizontal)
		ch.positive(key+".vertical", cl.Vertical)
		ch.nonNegative(key+".radius", cl.Radius)
		ch.nonNegative(key+".max_speed", cl.MaxSpeed)
		ch.nonNegativeDuration(key+".vehicle_ttl", cl.VehicleTTL)
		// The conservative-broadphase rule: the farthest point of the
		// protected cylinder must lie within max_distance, or the grid could
		// miss a pair the scorer would flag.
		reach := math.Hypot(cl.Horizontal, cl.Vertical)
		if cd.MaxDistance > 0 && reach > cd.MaxDistance {
			ch.fail(ErrConflict, key, []string{"collision_detection.max_distance"},
				"protected zone reaches %.1f m (sqrt(horizontal^2 + vertical^2)), beyond collision_detection.max_distance %g m: raise collision_detection.max_distance to at least %g or shrink the class",
				reach, cd.MaxDistance, math.Ceil(reach))
		}
	}
	// A pair's zone takes the larger horizontal and the larger vertical of
	// its two classes, so a wide class meeting a tall one reaches further
	// than either alone.
	var hName, vName string
	var hMax, vMax float64
	for _, name := range names {
		cl := cd.Classes[name]
		if cl.Horizontal > hMax {
			hMax, hName = cl.Horizontal, name
		}
		if cl.Vertical > vMax {
			vMax, vName = cl.Vertical, name
		}
	}
	if reach := math.Hypot(hMax, vMax); hName != vName && cd.MaxDistance > 0 && reach > cd.MaxDistance {
		hKey := "collision_detection.classes." + hName + ".horizontal"
		vKey := "collision_detection.classes." + vName + ".vertical"
		ch.fail(ErrConflict, hKey, []string{vKey, "collision_detection.max_distance"},
			"a %s meeting a %s has a protected zone reaching %.1f m (the larger horizontal with the larger vertical), beyond collision_detection.max_distance %g m: raise collision_detection.max_distance to at least %g",
			hName, vName, reach, cd.MaxDistance, math.Ceil(reach))
	}

	a := c.API
	ch.between("api.port", float64(a.Port), 0, 65535, false, false)
	if a.Host != "" && net.ParseIP(a.Host) == nil && strings.ContainsAny(a.Host, ":/ ") {
		ch.fail(ErrOutOfRange, "api.host", nil, "want an IP address or host name, got %q", a.Host)
	}
	for i, o := range a.CORSOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			ch.fail(ErrOutOfRange, fmt.Sprintf("api.cors_origins[%d]", i), nil, "want \"*\" or an origin such as https://ops.example.com, got %q", o)
		}
	}
	ch.positiveInt("api.max_batch", a.MaxBatch)
	ch.positiveInt("api.max_body_bytes", a.MaxBodyBytes)
	ch.nonNegativeDuration("api.read_timeout", a.ReadTimeout)
	ch.nonNegativeDuration("api.write_timeout", a.WriteTimeout)
	ch.nonNegativeDuration("api.idle_timeout", a.IdleTimeout)
	ch.positiveDuration("api.shutdown_timeout", a.ShutdownTimeout)
	ch.positiveInt("api.default_limit", a.DefaultLimit)
	ch.positiveInt("api.max_limit", a.MaxLimit)
	ch.positiveInt("api.stream.buffer", a.Stream.Buffer)
	ch.positiveInt("api.stream.max_clients", a.Stream.MaxClients)
	ch.positiveDuration("api.stream.heartbeat", a.Stream.Heartbeat)
	if a.DefaultLimit > a.MaxLimit && a.MaxLimit > 0 {
		ch.fail(ErrOutOfRange, "api.default_limit", nil, "%d is above api.max_limit %d", a.DefaultLimit, a.MaxLimit)
	}
	for i, cidr := range a.Admin.Allow {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			ch.fail(ErrOutOfRange, fmt.Sprintf("api.admin.allow[%d]", i), nil, "want a network in CIDR form such as 10.0.0.0/8, got %q", cidr)
		}
	}

	p := c.Plugins
	ch.regularFile("plugins.predictor.path", p.Predictor.Path)
	ch.regularFile("plugins.scorer.path", p.Scorer.Path)
	ch.between("plugins.limits.memory_pages", float64(p.Limits.MemoryPages), 1, 65536, false, false)
	ch.positiveDuration("plugins.limits.batch_timeout", p.Limits.BatchTimeout)
	ch.positiveInt("plugins.limits.max_module_bytes", p.Limits.MaxModuleBytes)
	ch.positiveDuration("plugins.limits.init_timeout", p.Limits.InitTimeout)
	keysBefore := len(ch.errs)
	for i, f := range p.TrustedKeys {
		ch.regularFile(fmt.Sprintf("plugins.trusted_keys[%d]", i), f)
	}
	if p.RequireSignature && len(p.TrustedKeys) == 0 {
		ch.fail(ErrConflict, "plugins.require_signature", []string{"plugins.trusted_keys"},
			"needs plugins.trusted_keys: list the Ed25519 public keys whose signatures are accepted")
	} else if len(ch.errs) == keysBefore {
		if _, err := security.NewPluginVerifier(p.TrustedKeys, p.RequireSignature); err != nil {
			ch.fail(ErrOutOfRange, "plugins.trusted_keys", nil, "%s", strings.TrimPrefix(err.Error(), "security: "))
		}
	}
	ch.between("plugins.limits.max_call_depth", float64(p.Limits.MaxCallDepth), 1, 1<<30, false, false)

	ch.oneOf("logging.level", c.Logging.Level, "debug", "info", "warn", "error")
	ch.oneOf("logging.format", c.Logging.Format, "text", "json")

	t := c.Security.TLS
	before := len(ch.errs)
	if (t.CertFile == "") != (t.KeyFile == "") {
		ch.fail(ErrConflict, "security.tls.cert_file", []string{"security.tls.key_file"},
			"security.tls.cert_file and security.tls.key_file must be set together")
	}
	ch.regularFile("security.tls.cert_file", t.CertFile)
	ch.regularFile("security.tls.key_file", t.KeyFile)
	validateJWT(ch, c.Security.JWT)
	ch.regularFile("security.tls.client_ca_file", t.ClientCAFile)
	if t.ClientCAFile != "" && t.CertFile == "" {
		ch.fail(ErrConflict, "security.tls.client_ca_file", []string{"security.tls.cert_file"},
			"client certificates need HTTPS: set security.tls.cert_file and key_file too")
	}
	ch.nonNegativeDuration("security.tls.watch_interval", t.WatchInterval)
	if t.CertFile != "" && t.KeyFile != "" && len(ch.errs) == before {
		if _, err := security.NewCertReloader(TLSConfig(t)); err != nil {
			ch.fail(ErrOutOfRange, "security.tls.cert_file", []string{"security.tls.key_file", "security.tls.client_ca_file"}, "%s", strings.TrimPrefix(err.Error(), "security: "))
		}
	}

	return ch.errs
}

func validTopic(t string) bool {
	if t == "" || len(t) > 249 || t == "." || t == ".." {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validateKafka checks the messaging.kafka settings beyond the topic names.
func validateKafka(ch *checker, k Kafka) {
	ch.oneOf("messaging.kafka.start_offset", k.StartOffset, "earliest", "latest")
	if k.Topics.DeadLetter == k.Topics.VehicleLocations && k.Topics.DeadLetter != "" {
		ch.fail(ErrConflict, "messaging.kafka.topics.dead_letter", []string{"messaging.kafka.topics.vehicle_locations"},
			"must differ from messaging.kafka.topics.vehicle_locations (refused records would be read again), got %q", k.Topics.DeadLetter)
	}
	c := k.Consumer
	ch.positiveInt("messaging.kafka.consumer.max_poll_records", c.MaxPollRecords)
	if c.CommitInterval < 100*time.Millisecond {
		ch.fail(ErrOutOfRange, "messaging.kafka.consumer.commit_interval", nil, "must be >= 0.1s (franz-go's floor), got %s", seconds2(c.CommitInterval))
	}
	ch.positiveInt("messaging.kafka.consumer.fetch_max_bytes", c.FetchMaxBytes)
	ch.positiveDuration("messaging.kafka.consumer.session_timeout", c.SessionTimeout)
	p := k.Producer
	ch.oneOf("messaging.kafka.producer.acks", p.Acks, "all", "leader", "none")
	if p.Idempotent && (p.Acks == "leader" || p.Acks == "none") {
		ch.fail(ErrConflict, "messaging.kafka.producer.idempotent", []string{"messaging.kafka.producer.acks"},
			"an idempotent producer needs messaging.kafka.producer.acks \"all\", got %q: set acks to all or idempotent to false", p.Acks)
	}
	ch.nonNegativeDuration("messaging.kafka.producer.linger", p.Linger)
	ch.between("messaging.kafka.producer.batch_max_bytes", float64(p.BatchMaxBytes), 512, 1<<30, false, false)
	ch.positiveInt("messaging.kafka.producer.max_buffered_records", p.MaxBufferedRecords)
	ch.nonNegativeDuration("messaging.kafka.producer.delivery_timeout", p.DeliveryTimeout)

	t := k.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		ch.fail(ErrConflict, "messaging.kafka.tls.cert_file", []string{"messaging.kafka.tls.key_file"},
			"messaging.kafka.tls.cert_file and messaging.kafka.tls.key_file must be set together")
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "") {
		ch.fail(ErrConflict, "messaging.kafka.tls.enabled", []string{"messaging.kafka.tls.ca_file", "messaging.kafka.tls.cert_file", "messaging.kafka.tls.server_name"},
			"TLS files or server_name are set but messaging.kafka.tls.enabled is false: set it to true")
	}
	ch.regularFile("messaging.kafka.tls.ca_file", t.CAFile)
	ch.regularFile("messaging.kafka.tls.cert_file", t.CertFile)
	ch.regularFile("messaging.kafka.tls.key_file", t.KeyFile)

	s := k.SASL
	ch.oneOf("messaging.kafka.sasl.mechanism", s.Mechanism, "", "plain", "scram-sha-256", "scram-sha-512")
	ch.regularFile("messaging.kafka.sasl.password_file", s.PasswordFile)
	if s.Mechanism != "" {
		if s.Username == "" {
			ch.fail(ErrConflict, "messaging.kafka.sasl.username", []string{"messaging.kafka.sasl.mechanism"},
				"must be set when messaging.kafka.sasl.mechanism is %q", s.Mechanism)
		}
		if (s.Password == "") == (s.PasswordFile == "") {
			ch.fail(ErrConflict, "messaging.kafka.sasl.password_file", []string{"messaging.kafka.sasl.password", "messaging.kafka.sasl.mechanism"},
				"set exactly one of messaging.kafka.sasl.password_file and messaging.kafka.sasl.password (CDP_MESSAGING_KAFKA_SASL_PASSWORD) for SASL %q", s.Mechanism)
		}
	}
	// A password written into the YAML file ends up in version control and
	// backups: accept it only from the environment or the command line.
	if s.Password != "" && ch.prov != nil {
		src := ch.sourceOf("messaging.kafka.sasl.password")
		if src != sourceDefaults && !strings.HasPrefix(src, "env ") && !strings.HasPrefix(src, "flag ") {
			ch.fail(ErrOutOfRange, "messaging.kafka.sasl.password", nil,
				"a password must not be written in a configuration file: use messaging.kafka.sasl.password_file or CDP_MESSAGING_KAFKA_SASL_PASSWORD")
		}
	}
}

// validateJWT checks security.jwt: the files exist, and when enabled the
// keys load and fit the algorithm allow-list (the same code as start).
func validateJWT(ch *checker, j JWT) {
	before := len(ch.errs)
	ch.regularFile("security.jwt.secret_file", j.SecretFile)
	for i, f := range j.PublicKeyFiles {
		ch.regularFile(fmt.Sprintf("security.jwt.public_key_files[%d]", i), f)
	}
	ch.regularFile("security.jwt.jwks_file", j.JWKSFile)
	if j.ClockSkew < 0 || j.ClockSkew > 5*time.Minute {
		ch.fail(ErrOutOfRange, "security.jwt.clock_skew", nil, "must be in [0, 300] seconds, got %s", seconds2(j.ClockSkew))
	}
	if j.RolesClaim == "" {
		ch.fail(ErrOutOfRange, "security.jwt.roles_claim", nil, "must not be empty")
	}
	if !j.Enabled {
		// Keys or rules without enabled would read as protection that is
		// not there.
		if j.SecretFile != "" || len(j.PublicKeyFiles) > 0 || j.JWKSFile != "" || len(j.Algorithms) > 0 ||
			j.Issuer != "" || j.Audience != "" || j.PublicMetrics {
			ch.fail(ErrConflict, "security.jwt.enabled", []string{"security.jwt.secret_file", "security.jwt.public_key_files", "security.jwt.jwks_file", "security.jwt.algorithms"},
				"security.jwt keys are set but security.jwt.enabled is false: nothing would be authenticated; set enabled: true or remove them")
		}
		return
	}
	if j.SecretFile == "" && len(j.PublicKeyFiles) == 0 && j.JWKSFile == "" {
		ch.fail(ErrConflict, "security.jwt.enabled", []string{"security.jwt.secret_file", "security.jwt.public_key_files", "security.jwt.jwks_file"},
			"needs a key: set security.jwt.secret_file, security.jwt.public_key_files or security.jwt.jwks_file")
		return
	}
	if len(ch.errs) > before {
		return // a missing file is reported already
	}
	if _, err := security.NewAuthenticator(JWTConfig(j)); err != nil {
		ch.fail(ErrOutOfRange, "security.jwt", nil, "%s", strings.TrimPrefix(err.Error(), "security: "))
	}
}

// JWTConfig is the authenticator configuration of security.jwt.
func JWTConfig(j JWT) security.JWTConfig {
	return security.JWTConfig{SecretFile: j.SecretFile, PublicKeyFiles: j.PublicKeyFiles, JWKSFile: j.JWKSFile,
		Algorithms: j.Algorithms, Issuer: j.Issuer, Audience: j.Audience, ClockSkew: j.ClockSkew, RolesClaim: j.RolesClaim}
}

// TLSConfig is the certificate loader configuration of security.tls.
func TLSConfig(t TLS) security.TLSConfig {
	return security.TLSConfig{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile}
}

func validateCluster(ch *checker, c *Config) {
	cl := c.Cluster
	ch.oneOf("cluster.role", cl.Role, RoleAll, RoleIngest, RoleCompute, RoleAPI)
	switch cl.Role {
	case RoleAPI:
		ch.fail(ErrUnsupported, "cluster.role", nil,
			"api (queries without an engine) is not available yet: it needs the risks and states in PostgreSQL or Redis; run compute nodes, whose API answers for their tiles, or role all")
	case RoleIngest, RoleCompute:
		if len(c.Messaging.Kafka.BootstrapServers) == 0 {
			ch.fail(ErrConflict, "cluster.role", []string{"messaging.kafka.bootstrap_servers"},
				"%s needs Kafka: set messaging.kafka.bootstrap_servers", cl.Role)
		}
	}
	if !(cl.TileSize >= 1) || math.IsInf(cl.TileSize, 0) {
		ch.fail(ErrOutOfRange, "cluster.tile_size", nil, "must be a finite number of metres >= 1, got %g", cl.TileSize)
	}
	ch.nonNegativeDuration("cluster.hold_time", cl.HoldTime)
	for _, r := range cl.NodeID {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			ch.fail(ErrOutOfRange, "cluster.node_id", nil, "want letters, digits, '.', '_' or '-', got %q", cl.NodeID)
			break
		}
	}
}
