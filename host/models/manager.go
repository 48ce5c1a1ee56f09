package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// Engine is what the manager uses of the detection engine (*engine.Engine
// implements it). SetModels must take effect between ticks.
type Engine interface {
	Models() engine.Models
	SetModels(engine.Models)
}

// Defaults of Config.
const (
	DefaultShadowShare   = 0.1
	DefaultWatchInterval = 200 * time.Millisecond
	DefaultCloseDelay    = 5 * time.Second
	// DefaultSlowFactor and DefaultSlowSlack: see Config.
	DefaultSlowFactor = 50
	DefaultSlowSlack  = 100 * time.Millisecond
	// DefaultProbationBatches and DefaultProbationTime: see Config.
	DefaultProbationBatches = 20
	DefaultProbationTime    = 2 * time.Minute
	// MinIDPrefix is the shortest id prefix accepted in place of a sha256.
	MinIDPrefix = 8
	// maxPrevious bounds each kind's rollback stack.
	maxPrevious = 32
)

// Config configures a Manager. Engine and Runtime are required; every other
// zero field takes the default its comment states.
type Config struct {
	// Engine receives the models on every change.
	Engine Engine
	// Runtime loads the modules (its compilation cache makes reloading fast).
	Runtime *plugins.Runtime
	// Signatures, when set, checks every upload's signature before anything
	// else (plugins.trusted_keys, plugins.require_signature); a refusal is
	// RefusedSignature. Default nil: signatures are not checked.
	Signatures SignatureVerifier
	// Dir keeps the modules (<sha256>.wasm) and registry.json; typically
	// <system.data_dir>/plugins. Default "": in memory only, nothing survives
	// a restart.
	Dir string
	// Options are the load options of every plugin (limits, instances,
	// breaker, logger). Config comes from the upload; Fallback and
	// FallbackPredictor are ignored: the engine's fallback chain (last good
	// plugin, then the base model) takes a failed batch.
	Options plugins.Options
	// Base is the model set with no plugin active: builtin, or what the
	// configuration loaded at start. Default Engine.Models() at New.
	Base *engine.Models
	// ShadowShare is the share of batches a shadow plugin scores when the
	// request names none. Default 0.1.
	ShadowShare float64
	// WatchInterval is how often the active plugins' breakers are checked.
	// Default 200 ms.
	WatchInterval time.Duration
	// CloseDelay is how long a plugin that left the engine's models stays
	// loaded, so that a tick which read the old models finishes on them.
	// Default 5 s.
	CloseDelay time.Duration
	// Registerer, when set, receives the per-plugin metrics.
	Registerer prometheus.Registerer
	// OnEvent, when set, hears the node-level events an operator's tooling
	// follows: "model_activated" (activation, rollback) and "plugin_failure"
	// (an automatic rollback after a breaker opened), with details. It is
	// called with the manager's lock held and must not block (the Kafka
	// edge's system-events producer does not). Default nil.
	OnEvent func(typ string, detail map[string]any)
	// ProbationBatches and ProbationTime end the trial of a scorer that was
	// active when the process died without a clean stop: it runs in shadow
	// and is reactivated after ProbationBatches shadow batches without a
	// failure, or after ProbationTime without one when traffic is too thin
	// to reach them. Defaults 20 and 2 min.
	ProbationBatches uint64
	ProbationTime    time.Duration
	// SlowFactor and SlowSlack are the latency budget of an active plugin,
	// against the base model measured at New: a batch is slow when it takes
	// more than SlowSlack + SlowFactor x the base model's time for as many
	// records, and the plugin is too slow (rolled back automatically, like a
	// breaker that opened) after Options.Breaker.Failures slow batches
	// within Options.Breaker.Window, or when three windows in a row of 5,000
	// records averaged more than SlowFactor x the base model per record.
	// Defaults 50 and 100 ms (one tick of the default processing interval);
	// SlowFactor < 0 turns the budget off.
	SlowFactor float64
	SlowSlack  time.Duration
	// Logger receives state changes. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock of the records. Default time.Now.
	Now func() time.Time
}

// Kinds that have an active model (a predictor+scorer plugin fills both).
const (
	KindScorer    = "scorer"
	KindPredictor = "predictor"
)

// Manager is the registry of uploaded plugins and the owner of the engine's
// models: it validates uploads, keeps them by sha256, runs one in shadow,
// activates and rolls back, and watches the active plugins' breakers. It is
// safe for concurrent use. Create it with New, stop it with Close.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	reg    *registryFile
	byID   map[string]*Record
	loaded map[string]*timed
	// modules keeps the module bytes when there is no data directory, so
	// that an unloaded plugin can be loaded again.
	modules map[string][]byte
	shadow  *shadowObserver
	closing []closing
	closed  bool

	stop, done chan struct{}
	trials     sync.WaitGroup // predictor trials (see probation)
	slow       *slowPolicy    // nil when SlowFactor < 0

	autoRollbacks atomic.Uint64
	activations   atomic.Uint64
}

type closing struct {
	t  *timed
	at time.Time
}

// AutoRollback records an automatic rollback.
type AutoRollback struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	From   Ref       `json:"from"`
	To     Ref       `json:"to"`
	Reason string    `json:"reason"`
}

// New opens the registry under cfg.Dir (creating it), loads the plugins that
// were active (or in shadow) when it was last written, sets them on the
// engine and starts the breaker watch. A plugin that can no longer be loaded
// is rolled back to the one before it, and the event is recorded.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Engine == nil || cfg.Runtime == nil {
		return nil, fmt.Errorf("models: Config.Engine and Config.Runtime are required")
	}
	if cfg.Base == nil {
		b := cfg.Engine.Models()
		b.Shadow, b.ShadowObserver, b.ShadowShare = nil, nil, 0
		cfg.Base = &b
	}
	if cfg.ShadowShare == 0 {
		cfg.ShadowShare = DefaultShadowShare
	}
	if cfg.ShadowShare < 0 || cfg.ShadowShare > 1 {
		return nil, fmt.Errorf("models: Config.ShadowShare = %v, want (0, 1]", cfg.ShadowShare)
	}
	if cfg.WatchInterval <= 0 {
		cfg.WatchInterval = DefaultWatchInterval
	}
	if cfg.CloseDelay <= 0 {
		cfg.CloseDelay = DefaultCloseDelay
	}
	if cfg.SlowFactor == 0 {
		cfg.SlowFactor = DefaultSlowFactor
	}
	if cfg.SlowSlack <= 0 {
		cfg.SlowSlack = DefaultSlowSlack
	}
	if cfg.ProbationBatches == 0 {
		cfg.ProbationBatches = DefaultProbationBatches
	}
	if cfg.ProbationTime <= 0 {
		cfg.ProbationTime = DefaultProbationTime
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Options.Logger == nil {
		cfg.Options.Logger = cfg.Logger
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
	}
	reg, err := readRegistry(cfg.Dir)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, reg: reg, byID: map[string]*Record{}, loaded: map[string]*timed{},
		modules: map[string][]byte{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, r := range reg.Plugins {
		m.byID[r.ID] = r
	}
	if cfg.SlowFactor > 0 {
		m.slow = calibrate(cfg.Base, cfg.SlowFactor, cfg.SlowSlack)
	}
	m.autoRollbacks.Store(uint64(len(reg.AutoRollbacks)))
	m.activations.Store(uint64(len(reg.Activations)))
	if err := m.restore(ctx); err != nil {
		m.closeAll(ctx)
		return nil, err
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(&collector{m: m}); err != nil {
			m.closeAll(ctx)
			return nil, fmt.Errorf("models: metrics: %w", err)
		}
	}
	go m.watch()
	return m, nil
}

// restore loads the active and shadow plugins of the registry and sets the
// engine's models.
func (m *Manager) restore(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	sys := Actor{By: "system"}
	unclean := m.reg.Running
	for _, kind := range []string{KindScorer, KindPredictor} {
		sl := m.reg.Slots[kind]
		if sl == nil || sl.Active == "" {
			continue
		}
		if unclean && sl.Probation {
			m.log.Error("models: the process stopped uncleanly again while the active plugin was on trial; rolling back", "kind", kind, "id", sl.Active)
			if _, err := m.rollbackLocked(ctx, kind, sys, "restart: the process stopped uncleanly twice with this plugin active (the second time on trial)", StateBroken); err != nil {
				return err
			}
			continue
		}
		if _, err := m.ensureLoaded(ctx, sl.Active); err != nil {
			m.log.Error("models: active plugin cannot be loaded at start; rolling back", "kind", kind, "id", sl.Active, "err", err)
			if _, rerr := m.rollbackLocked(ctx, kind, sys, "restart: "+err.Error(), StateBroken); rerr != nil {
				return rerr
			}
			continue
		}
		m.loaded[sl.Active].arm(now)
		m.loadFallback(ctx, kind)
		if unclean {
			sl.Probation = true
		}
	}
	for _, r := range m.reg.Plugins {
		if r.State != StateShadow {
			continue
		}
		if sl := m.reg.Slots[KindScorer]; sl != nil && sl.Probation {
			m.transition(r, StateStored, "restart: the shadow is needed for the trial of the active scorer", sys, now)
			continue
		}
		share := m.cfg.ShadowShare
		if r.Shadow != nil && r.Shadow.Share > 0 {
			share = r.Shadow.Share
		}
		if _, err := m.ensureLoaded(ctx, r.ID); err != nil {
			m.transition(r, StateStored, "restart: "+err.Error(), sys, now)
			continue
		}
		m.shadow = &shadowObserver{id: r.ID, share: share, started: now}
	}
	for _, kind := range []string{KindScorer, KindPredictor} {
		if sl := m.reg.Slots[kind]; sl != nil && sl.Probation {
			m.probation(ctx, kind, now)
		}
	}
	m.reg.Running = m.cfg.Dir != ""
	m.apply()
	return m.persist()
}

// probation starts the trial of kind's active plugin after an unclean stop:
// the process may have died because of it (a module that froze or exhausted
// the server must not do it again at every restart), so it is not trusted
// blindly. The engine uses the model before it (the last good plugin, or the
// base model); a scorer runs in shadow on live batches, a predictor on the
// conformance vectors, off the engine. The first failure rolls it back as
// broken; a clean trial makes it active again. m.mu is held.
func (m *Manager) probation(ctx context.Context, kind string, now time.Time) {
	sl := m.reg.Slots[kind]
	id := sl.Active
	sys := Actor{By: "system"}
	used := ""
	if g := m.lastGood(kind); g != nil {
		used = g.p.Model().SHA256
	}
	m.recordActivation(kind, id, used, "probation: the process stopped without a clean shutdown while this plugin was active; it is on trial before it is reactivated", sys, now)
	m.log.Warn("models: unclean stop: the active plugin is on trial", "kind", kind, "id", id, "using", m.ref(used))
	if kind == KindScorer {
		m.shadow = &shadowObserver{id: id, share: m.cfg.ShadowShare, started: now}
		return
	}
	module, ok := m.modules[id]
	if !ok {
		var err error
		if module, err = os.ReadFile(m.modulePath(id)); err != nil {
			m.failTrial(kind, id, err.Error())
			return
		}
	}
	opts := m.loadOptions(m.byID[id].Config)
	m.trials.Add(1)
	go func() {
		defer m.trials.Done()
		rep := m.cfg.Runtime.Conformance(context.WithoutCancel(ctx), module, opts)
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.closed || sl.Active != id || !sl.Probation {
			return
		}
		if !rep.Pass {
			m.failTrial(kind, id, "conformance: "+trialFailure(&rep))
		} else {
			m.passTrial(kind, "passed the conformance vectors")
		}
		m.apply()
		if err := m.persist(); err != nil {
			m.log.Error("models: persist", "err", err)
		}
	}()
}

// trialFailure names the first failure of a conformance report.
func trialFailure(rep *plugins.Report) string {
	if rep.LoadError != "" {
		return rep.LoadError
	}
	for _, v := range rep.Vectors {
		if !v.Pass && !v.Skipped {
			return v.Name + ": " + v.Detail
		}
	}
	return "no vector applies"
}

// passTrial reactivates kind's plugin on trial. m.mu is held; the caller
// applies and persists.
func (m *Manager) passTrial(kind, how string) {
	sl := m.reg.Slots[kind]
	now := m.cfg.Now()
	sl.Probation = false
	if kind == KindScorer && m.shadow != nil && m.shadow.id == sl.Active {
		m.shadow = nil
	}
	used := ""
	if g := m.lastGood(kind); g != nil {
		used = g.p.Model().SHA256
	}
	if t := m.loaded[sl.Active]; t != nil {
		t.arm(now)
	}
	m.recordActivation(kind, used, sl.Active, "reactivated after its trial: "+how, Actor{By: "system"}, now)
	m.log.Info("models: plugin passed its trial and is active again", "kind", kind, "id", sl.Active, "how", how)
}

// failTrial rolls kind's plugin on trial back as broken. m.mu is held; the
// caller persists.
func (m *Manager) failTrial(kind, id, why string) {
	reason := "failed its trial after an unclean stop: " + why
	m.log.Error("models: plugin on trial failed; rolling back", "kind", kind, "id", id, "why", why)
	if _, err := m.rollbackLocked(context.Background(), kind, Actor{By: "system"}, reason, StateBroken); err != nil {
		m.log.Error("models: rollback after a failed trial", "err", err)
	}
}

// endProbation ends kind's trial without a verdict (an explicit activate or
// rollback decided). m.mu is held.
func (m *Manager) endProbation(kind string) {
	sl := m.reg.Slots[kind]
	if sl == nil || !sl.Probation {
		return
	}
	sl.Probation = false
	if kind == KindScorer && m.shadow != nil && m.shadow.id == sl.Active {
		m.shadow = nil
	}
}

// ----------------------------------------------------------------- upload

// Upload is one module offered to the registry.
type Upload struct {
	Module []byte
	// Signature is the detached signature (the .sig file `cdp plugin sign`
	// writes); nil when none came.
	Signature []byte
	// Kind is "scorer", "predictor" or "predictor+scorer"; when set it must
	// be the manifest's (a predictor+scorer module may be stored as either
	// one). Default: the manifest's kind.
	Kind string
	// Name and Version, when set, must be the manifest's.
	Name, Version string
	// Description replaces the manifest's when set.
	Description string
	// Config is the plugin's JSON configuration (cdp_init). Default {}.
	Config json.RawMessage
	Actor
}

// SignatureVerifier checks a module's detached signature
// (*security.PluginVerifier implements it).
type SignatureVerifier interface {
	// Verify returns the signing key's id ("" for an accepted unsigned
	// module) or why the module is refused.
	Verify(module, sig []byte) (string, error)
}

// Upload validates the module as `cdp plugin test` does and as a load with
// the configured limits does (size, compile, imports and exports, ABI
// version, manifest, init within plugins.limits.init_timeout, conformance
// vectors), then stores it by sha256 and returns its record with created
// set. A refusal is a *RefusedError naming the cause. Uploading a stored
// module again with the same configuration returns its record (created
// false); with another configuration it is ErrConflict.
func (m *Manager) Upload(ctx context.Context, u Upload) (rec *Record, created bool, err error) {
	var kind abi.Kind // 0: the manifest's, known after validation
	if u.Kind != "" {
		if kind, err = parseKind(u.Kind); err != nil {
			return nil, false, err
		}
	}
	cfgJSON, err := normConfig(u.Config)
	if err != nil {
		return nil, false, err
	}
	signedBy := ""
	if m.cfg.Signatures != nil {
		// Fail closed, before the module is compiled or run.
		if signedBy, err = m.cfg.Signatures.Verify(u.Module, u.Signature); err != nil {
			return nil, false, &RefusedError{Cause: RefusedSignature, Message: strings.TrimPrefix(err.Error(), "security: ")}
		}
	}
	limit := m.cfg.Options.Limits.MaxModuleBytes
	if limit <= 0 {
		limit = plugins.DefaultMaxModuleBytes
	}
	switch {
	case len(u.Module) == 0:
		return nil, false, refusedf(RefusedNotWasm, "the module is empty")
	case len(u.Module) > limit:
		return nil, false, refusedf(RefusedTooLarge, "the module is %d bytes, over the limit of %d (plugins.limits.max_module_bytes)", len(u.Module), limit)
	case len(u.Module) < 8 || !bytes.Equal(u.Module[:4], []byte("\x00asm")):
		return nil, false, refusedf(RefusedNotWasm, "not a WebAssembly module: it does not start with the magic bytes \\0asm")
	}
	sum := sha256.Sum256(u.Module)
	id := hex.EncodeToString(sum[:])

	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, false, ErrClosed
	}
	if r := m.byID[id]; r != nil {
		defer m.mu.Unlock()
		if !bytes.Equal(r.Config, cfgJSON) {
			return nil, false, conflict("module %s is stored already with another configuration; delete it first", id[:12])
		}
		cp := m.snapshot(r)
		return &cp, false, nil
	}
	m.mu.Unlock()

	// Validate outside the lock: conformance takes a while.
	opts := m.loadOptions(cfgJSON)
	rep := m.cfg.Runtime.Conformance(ctx, u.Module, opts)
	if rep.LoadError != "" && storageMessage(rep.LoadError) {
		// The module could not be compiled into the cache for lack of
		// space: not the module's fault.
		return nil, false, &StorageError{What: "compiled module", Err: errors.New(rep.LoadError)}
	}
	if rep.LoadError != "" {
		msg := strings.TrimPrefix(strings.TrimPrefix(rep.LoadError, plugins.ErrRefused.Error()+": "), "plugins: ")
		return nil, false, &RefusedError{Cause: classifyLoadError(msg), Message: msg}
	}
	if !rep.Pass {
		re := &RefusedError{Cause: RefusedConformance}
		var names []string
		for _, v := range rep.Vectors {
			if !v.Pass && !v.Skipped {
				re.Vectors = append(re.Vectors, VectorFailure{Vector: v.Name, Op: v.Op, Detail: v.Detail})
				names = append(names, v.Name+": "+v.Detail)
			}
		}
		if len(names) == 0 {
			names = append(names, "no vector applies to the plugin's kind")
		}
		re.Message = fmt.Sprintf("failed %d conformance vector(s) (%s check): %s", len(re.Vectors), rep.Mode, strings.Join(names, "; "))
		return nil, false, re
	}
	man := rep.Manifest
	if kind == 0 {
		kind = man.ModelKind()
	}
	// A predictor+scorer module may be uploaded as either one: it is then
	// used as that kind only.
	if man.ModelKind()&kind != kind {
		return nil, false, refusedf(RefusedKind, "declared kind %q, but the manifest says %q", kind.String(), man.Kind)
	}
	if u.Name != "" && u.Name != man.Name {
		return nil, false, refusedf(RefusedManifest, "declared name %q, but the manifest says %q", u.Name, man.Name)
	}
	if u.Version != "" && u.Version != man.Version {
		return nil, false, refusedf(RefusedManifest, "declared version %q, but the manifest says %q", u.Version, man.Version)
	}
	p, err := m.cfg.Runtime.Load(ctx, u.Module, opts)
	if se, ok := storageFailure("compiled module", err); ok {
		return nil, false, se
	}
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), plugins.ErrRefused.Error()+": ")
		return nil, false, &RefusedError{Cause: classifyLoadError(msg), Message: msg}
	}
	if m.cfg.Dir != "" {
		if err := writeFile(m.modulePath(id), u.Module); err != nil {
			p.Close(context.WithoutCancel(ctx))
			return nil, false, &StorageError{What: "module", Err: err}
		}
	}
	now := m.cfg.Now()
	desc := u.Description
	if desc == "" {
		desc = man.Description
	}
	r := &Record{ID: id, Name: man.Name, Version: man.Version, Kind: kind.String(), Description: desc,
		ABIVersion: rep.ABIVersion, Config: cfgJSON, Size: len(u.Module), UploadedAt: now, UploadedBy: u.Actor,
		ConformanceNsPerPair: rep.NsPerPair, SignedBy: signedBy}

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		p.Close(context.WithoutCancel(ctx))
		return nil, false, ErrClosed
	}
	if old := m.byID[id]; old != nil { // a concurrent upload of the same module won
		p.Close(context.WithoutCancel(ctx))
		cp := m.snapshot(old)
		return &cp, false, nil
	}
	m.transition(r, StateStored, "uploaded", u.Actor, now)
	m.byID[id] = r
	m.reg.Plugins = append(m.reg.Plugins, r)
	m.loaded[id] = &timed{p: p, slow: m.slow}
	if m.cfg.Dir == "" {
		m.modules[id] = u.Module
	}
	if err := m.persist(); err != nil {
		return nil, false, err
	}
	m.log.Info("models: plugin uploaded", "id", id, "name", r.Name, "version", r.Version, "kind", r.Kind, "remote", u.RemoteAddr)
	cp := m.snapshot(r)
	return &cp, true, nil
}

// kindOf returns a record's kind as an abi.Kind.
func kindOf(s string) abi.Kind { return plugins.Manifest{Kind: s}.ModelKind() }

func parseKind(s string) (abi.Kind, error) {
	k := plugins.Manifest{Kind: s}.ModelKind()
	if k == 0 {
		return 0, badRequest("kind %q: want \"scorer\", \"predictor\" or \"predictor+scorer\"", s)
	}
	return k, nil
}

// normConfig validates and compacts a JSON configuration ("{}" when empty).
func normConfig(c json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(c)) == 0 {
		return json.RawMessage("{}"), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, c); err != nil {
		return nil, badRequest("config is not valid JSON: %v", err)
	}
	if b := buf.Bytes(); len(b) == 0 || b[0] != '{' {
		return nil, badRequest("config must be a JSON object")
	}
	return json.RawMessage(buf.Bytes()), nil
}

func (m *Manager) loadOptions(cfg json.RawMessage) plugins.Options {
	o := m.cfg.Options
	o.Config = cfg
	o.Fallback, o.FallbackPredictor = nil, nil
	return o
}

func (m *Manager) modulePath(id string) string { return filepath.Join(m.cfg.Dir, id+".wasm") }

// ensureLoaded returns the loaded plugin id, loading it from the data
// directory when needed. m.mu is held.
func (m *Manager) ensureLoaded(ctx context.Context, id string) (*timed, error) {
	if t := m.loaded[id]; t != nil {
		m.cancelClose(t)
		return t, nil
	}
	r := m.byID[id]
	if r == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	module, ok := m.modules[id]
	if !ok {
		var err error
		if module, err = os.ReadFile(m.modulePath(id)); err != nil {
			return nil, fmt.Errorf("models: %w", err)
		}
	}
	if sum := sha256.Sum256(module); hex.EncodeToString(sum[:]) != id {
		return nil, fmt.Errorf("models: %s does not match its sha256", m.modulePath(id))
	}
	p, err := m.cfg.Runtime.Load(ctx, module, m.loadOptions(r.Config))
	if err != nil {
		return nil, err
	}
	t := &timed{p: p, slow: m.slow}
	m.loaded[id] = t
	return t, nil
}

func (m *Manager) cancelClose(t *timed) {
	m.closing = slices.DeleteFunc(m.closing, func(c closing) bool { return c.t == t })
}

// ----------------------------------------------------------------- lookups

// resolve finds a plugin by id or unique id prefix (at least 8 hex
// characters). m.mu is held.
func (m *Manager) resolve(id string) (*Record, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if r := m.byID[id]; r != nil {
		return r, nil
	}
	if len(id) < MinIDPrefix {
		return nil, badRequest("plugin id %q: give the sha256 or a prefix of at least %d hex characters", id, MinIDPrefix)
	}
	var found *Record
	for k, r := range m.byID {
		if strings.HasPrefix(k, id) {
			if found != nil {
				return nil, fmt.Errorf("%w: %q matches %s and %s", ErrAmbiguous, id, found.ID[:12], r.ID[:12])
			}
			found = r
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return found, nil
}

// Info is a plugin's record with its live statistics.
type Info struct {
	Record
	// ActiveAs lists the kinds the plugin is the active model of.
	ActiveAs []string `json:"active_as,omitempty"`
	// Loaded: the plugin is in memory.
	Loaded bool `json:"loaded"`
	// Metrics are derived from Counters.
	Metrics Metrics `json:"metrics"`
}

// Metrics are per-plugin figures derived from its counters.
type Metrics struct {
	NsPerPair    float64 `json:"ns_per_pair"`    // wall time per scored pair
	NsPerVehicle float64 `json:"ns_per_vehicle"` // wall time per predicted vehicle
	BreakerOpen  bool    `json:"breaker_open"`
	BreakerCause string  `json:"breaker_cause,omitempty"`
	// SwapLatencyMS is the time from the plugin's last activation to the end
	// of the first batch it scored; 0 until it has scored one.
	SwapLatencyMS float64 `json:"swap_latency_ms"`
	// SlowBatches counts the batches over their latency budget since the
	// plugin was loaded (Config.SlowFactor).
	SlowBatches uint64 `json:"slow_batches"`
}

// snapshot copies r with the live counters added. m.mu is held.
func (m *Manager) snapshot(r *Record) Record {
	cp := *r
	cp.Transitions = slices.Clone(r.Transitions)
	cp.Counters.LastFailures = slices.Clone(r.Counters.LastFailures)
	if t := m.loaded[r.ID]; t != nil {
		cp.Counters.add(t.counters())
	}
	if m.shadow != nil && m.shadow.id == r.ID {
		cp.Shadow = m.shadow.report()
	}
	return cp
}

func (m *Manager) info(r *Record) Info {
	in := Info{Record: m.snapshot(r)}
	for _, k := range []string{KindScorer, KindPredictor} {
		if sl := m.reg.Slots[k]; sl != nil && sl.Active == r.ID {
			in.ActiveAs = append(in.ActiveAs, k)
		}
	}
	c := in.Counters
	if t := m.loaded[r.ID]; t != nil {
		in.Loaded = true
		s := t.p.Stats()
		in.Metrics.BreakerOpen, in.Metrics.BreakerCause = s.BreakerOpen, s.BreakerCause
		in.Metrics.SwapLatencyMS = float64(t.swapLatency()) / 1e6
		in.Metrics.SlowBatches = t.slowCount.Load()
	}
	if c.Pairs > 0 && c.Vehicles == 0 {
		in.Metrics.NsPerPair = float64(c.Nanos) / float64(c.Pairs)
	}
	if c.Vehicles > 0 && c.Pairs == 0 {
		in.Metrics.NsPerVehicle = float64(c.Nanos) / float64(c.Vehicles)
	}
	return in
}

// List returns every plugin, newest upload first.
func (m *Manager) List() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Info, 0, len(m.reg.Plugins))
	for _, r := range m.reg.Plugins {
		out = append(out, m.info(r))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].UploadedAt.After(out[j].UploadedAt) })
	return out
}

// Get returns one plugin by id or unique id prefix.
func (m *Manager) Get(id string) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, err := m.resolve(id)
	if err != nil {
		return Info{}, err
	}
	return m.info(r), nil
}

// History returns the activation history, oldest first.
func (m *Manager) History() []Activation {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.reg.Activations)
}

// ----------------------------------------------------------------- changes

// transition moves r to state to and records why. m.mu is held.
func (m *Manager) transition(r *Record, to State, reason string, a Actor, now time.Time) {
	r.Transitions = append(r.Transitions, Transition{Time: now, From: r.State, To: to, Reason: reason, Actor: a})
	if n := len(r.Transitions); n > 200 {
		r.Transitions = slices.Delete(r.Transitions, 0, n-200)
	}
	r.State = to
}

// ShadowRequest starts or stops shadowing.
type ShadowRequest struct {
	// Share of batches scored in shadow, in (0, 1]. Default Config.ShadowShare.
	Share float64 `json:"share"`
	// Stop ends shadowing (the plugin returns to stored).
	Stop bool `json:"stop"`
	Actor
}

// Shadow makes the scorer id score a share of the live batches beside the
// active scorer; its answers never reach the risk events. Another shadow
// plugin returns to stored. Statistics start afresh.
func (m *Manager) Shadow(ctx context.Context, id string, req ShadowRequest) (Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Info{}, ErrClosed
	}
	r, err := m.resolve(id)
	if err != nil {
		return Info{}, err
	}
	now := m.cfg.Now()
	if req.Stop {
		if m.shadow == nil || m.shadow.id != r.ID {
			return Info{}, conflict("plugin %s is not in shadow", r.ID[:12])
		}
		m.stopShadow(StateStored, "shadow stopped", req.Actor, now)
		m.apply()
		return m.info(r), m.persist()
	}
	share := req.Share
	if share == 0 {
		share = m.cfg.ShadowShare
	}
	if share < 0 || share > 1 {
		return Info{}, badRequest("share %v: want a fraction in (0, 1]", share)
	}
	if kindOf(r.Kind)&abi.KindScorer == 0 {
		return Info{}, conflict("plugin %s is a %s: only scorers run in shadow", r.ID[:12], r.Kind)
	}
	if sl := m.reg.Slots[KindScorer]; sl != nil && sl.Active == r.ID {
		return Info{}, conflict("plugin %s is the active scorer", r.ID[:12])
	}
	if sl := m.reg.Slots[KindScorer]; sl != nil && sl.Probation {
		return Info{}, conflict("the active scorer %s is on trial in shadow after an unclean stop; activate or roll back first", sl.Active[:12])
	}
	if _, err := m.ensureLoaded(ctx, r.ID); err != nil {
		return Info{}, fmt.Errorf("models: load %s: %w", r.ID[:12], err)
	}
	if m.shadow != nil {
		m.stopShadow(StateStored, "replaced in shadow by "+r.ID[:12], req.Actor, now)
	}
	m.shadow = &shadowObserver{id: r.ID, share: share, started: now}
	m.transition(r, StateShadow, fmt.Sprintf("shadow at share %g", share), req.Actor, now)
	m.apply()
	m.scheduleUnused(now)
	return m.info(r), m.persist()
}

// stopShadow ends the current shadow session, keeping its report. m.mu is held.
func (m *Manager) stopShadow(to State, reason string, a Actor, now time.Time) {
	o := m.shadow
	m.shadow = nil
	if r := m.byID[o.id]; r != nil {
		r.Shadow = o.report()
		if r.State == StateShadow {
			m.transition(r, to, reason, a, now)
		}
	}
}

// Activate makes id the active model of its kind (both, for a
// predictor+scorer): the engine uses it from its next tick; the tick in
// flight finishes on the old model. The previous active plugin is retired
// and becomes the first fallback; the switch is recorded in the history.
// Activating a broken plugin puts it back in service (its breaker is reset).
func (m *Manager) Activate(ctx context.Context, id string, a Actor) ([]Activation, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	r, err := m.resolve(id)
	if err != nil {
		return nil, err
	}
	t, err := m.ensureLoaded(ctx, r.ID)
	if err != nil {
		return nil, fmt.Errorf("models: load %s: %w", r.ID[:12], err)
	}
	now := m.cfg.Now()
	k := kindOf(r.Kind)
	// The switch is written to the registry first and takes effect only
	// then: a registry that cannot be written (disk full, read-only) leaves
	// the engine, the registry and the history as they were.
	cp := m.checkpoint()
	var acts []Activation
	for _, kind := range []string{KindScorer, KindPredictor} {
		if kind == KindScorer && k&abi.KindScorer == 0 || kind == KindPredictor && k&abi.KindPredictor == 0 {
			continue
		}
		sl := m.slot(kind)
		if sl.Active == r.ID && sl.Probation {
			m.endProbation(kind)
			acts = append(acts, m.appendActivation(kind, "", r.ID, "activate: trial ended by request", a, now))
			continue
		}
		if sl.Active == r.ID {
			continue
		}
		m.endProbation(kind)
		from := sl.Active
		sl.Previous = append(sl.Previous, from)
		if n := len(sl.Previous); n > maxPrevious {
			sl.Previous = slices.Delete(sl.Previous, 0, n-maxPrevious)
		}
		sl.Active = r.ID
		acts = append(acts, m.appendActivation(kind, from, r.ID, "activate", a, now))
		if old := m.byID[from]; old != nil && !m.isActive(from) && old.State == StateActive {
			m.transition(old, StateRetired, "replaced by "+r.ID[:12], a, now)
		}
	}
	if len(acts) == 0 {
		return nil, nil // active already
	}
	if m.shadow != nil && m.shadow.id == r.ID {
		m.stopShadow(StateActive, "promoted from shadow", a, now)
	}
	if r.State != StateActive {
		m.transition(r, StateActive, "activated", a, now)
	}
	if err := m.persist(); err != nil {
		m.rewind(cp)
		m.scheduleUnused(now)
		return nil, fmt.Errorf("models: activate %s: nothing changed: %w", r.ID[:12], err)
	}
	m.announce(acts...)
	t.p.Reset()
	t.resetSlow()
	t.arm(now)
	m.apply()
	m.scheduleUnused(now)
	m.log.Info("models: plugin activated", "id", r.ID, "name", r.Name, "version", r.Version, "remote", a.RemoteAddr)
	return acts, nil
}

// Rollback makes the previously active model of kind active again (the
// plugin before the current one, or the base model), in one call. The
// current plugin is retired.
func (m *Manager) Rollback(ctx context.Context, kind string, a Actor) (Activation, error) {
	if kind == "" {
		kind = KindScorer
	}
	if kind != KindScorer && kind != KindPredictor {
		return Activation{}, badRequest("kind %q: want \"scorer\" or \"predictor\"", kind)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Activation{}, ErrClosed
	}
	act, err := m.rollbackLocked(ctx, kind, a, "rollback", StateRetired)
	if err != nil {
		return act, err
	}
	return act, m.persist()
}

// rollbackLocked pops kind's stack to the newest usable model; the current
// plugin moves to state from. m.mu is held; the caller persists.
func (m *Manager) rollbackLocked(ctx context.Context, kind string, a Actor, reason string, fromState State) (Activation, error) {
	sl := m.slot(kind)
	if sl.Active == "" {
		return Activation{}, conflict("no %s plugin is active: the base model is in use, nothing to roll back", kind)
	}
	now := m.cfg.Now()
	m.endProbation(kind)
	from := sl.Active
	to := ""
	for len(sl.Previous) > 0 {
		cand := sl.Previous[len(sl.Previous)-1]
		sl.Previous = sl.Previous[:len(sl.Previous)-1]
		if cand == "" {
			break
		}
		r := m.byID[cand]
		if r == nil || r.State == StateBroken {
			continue
		}
		t, err := m.ensureLoaded(ctx, cand)
		if err != nil {
			m.log.Warn("models: rollback skips a plugin that cannot be loaded", "id", cand, "err", err)
			continue
		}
		to = cand
		t.p.Reset()
		t.resetSlow()
		t.arm(now)
		if m.shadow != nil && m.shadow.id == cand {
			m.stopShadow(StateActive, reason, a, now)
		}
		if r.State != StateActive {
			m.transition(r, StateActive, reason, a, now)
		}
		break
	}
	sl.Active = to
	m.loadFallback(ctx, kind)
	if old := m.byID[from]; old != nil && !m.isActive(from) {
		m.transition(old, fromState, reason, a, now)
	}
	act := m.recordActivation(kind, from, to, reason, a, now)
	m.apply()
	m.scheduleUnused(now)
	m.log.Warn("models: rolled back", "kind", kind, "from", from, "to", to, "reason", reason)
	return act, nil
}

// Delete removes a plugin that is not active.
func (m *Manager) Delete(ctx context.Context, id string, a Actor) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	r, err := m.resolve(id)
	if err != nil {
		return err
	}
	if m.isActive(r.ID) {
		return conflict("plugin %s is active: activate another model or roll back first", r.ID[:12])
	}
	now := m.cfg.Now()
	if m.shadow != nil && m.shadow.id == r.ID {
		m.stopShadow(StateStored, "deleted", a, now)
	}
	delete(m.byID, r.ID)
	delete(m.modules, r.ID)
	m.reg.Plugins = slices.DeleteFunc(m.reg.Plugins, func(x *Record) bool { return x == r })
	m.apply() // drops it from the fallback chain
	if t := m.loaded[r.ID]; t != nil {
		delete(m.loaded, r.ID)
		m.cancelClose(t)
		m.closing = append(m.closing, closing{t: t, at: now.Add(m.cfg.CloseDelay)})
	}
	if m.cfg.Dir != "" {
		if err := os.Remove(m.modulePath(r.ID)); err != nil && !os.IsNotExist(err) {
			m.log.Warn("models: remove module", "err", err)
		}
	}
	m.log.Info("models: plugin deleted", "id", r.ID, "remote", a.RemoteAddr)
	return m.persist()
}

func (m *Manager) slot(kind string) *slot {
	sl := m.reg.Slots[kind]
	if sl == nil {
		sl = &slot{}
		m.reg.Slots[kind] = sl
	}
	return sl
}

func (m *Manager) isActive(id string) bool {
	for _, sl := range m.reg.Slots {
		if sl.Active == id && id != "" {
			return true
		}
	}
	return false
}

func (m *Manager) ref(id string) Ref {
	if id == "" {
		return Ref{}
	}
	if r := m.byID[id]; r != nil {
		return Ref{ID: id, Name: r.Name, Version: r.Version}
	}
	return Ref{ID: id}
}

// baseRef names the base model of kind.
func (m *Manager) baseRef(kind string) Ref {
	var id abi.ModelID
	if kind == KindScorer {
		id = m.cfg.Base.Scorer.Model()
	} else {
		id = m.cfg.Base.Predictor.Model()
	}
	return Ref{Name: id.Name, Version: id.Version}
}

func (m *Manager) recordActivation(kind, from, to, reason string, a Actor, now time.Time) Activation {
	act := m.appendActivation(kind, from, to, reason, a, now)
	m.announce(act)
	return act
}

// appendActivation adds a switch to the history without announcing it.
// m.mu is held.
func (m *Manager) appendActivation(kind, from, to, reason string, a Actor, now time.Time) Activation {
	act := Activation{Time: now, Kind: kind, From: m.ref(from), To: m.ref(to), Reason: reason, Actor: a}
	if from == "" {
		act.From = m.baseRef(kind)
	}
	if to == "" {
		act.To = m.baseRef(kind)
	}
	m.reg.Activations = append(m.reg.Activations, act)
	if n := len(m.reg.Activations); n > maxActivations {
		m.reg.Activations = slices.Delete(m.reg.Activations, 0, n-maxActivations)
	}
	return act
}

// announce counts switches and reports them (system events).
func (m *Manager) announce(acts ...Activation) {
	for _, act := range acts {
		m.activations.Add(1)
		if m.cfg.OnEvent != nil {
			m.cfg.OnEvent("model_activated", map[string]any{"kind": act.Kind, "from": act.From, "to": act.To, "reason": act.Reason, "by": act.Actor.By})
		}
	}
}

// checkpoint is the registry state that a failed persist restores.
type checkpoint struct {
	slots       map[string]slot
	activations []Activation
	records     map[string]Record
	shadow      *shadowObserver
}

// checkpoint copies the registry state that Activate changes. m.mu is held.
func (m *Manager) checkpoint() checkpoint {
	cp := checkpoint{slots: map[string]slot{}, activations: slices.Clone(m.reg.Activations),
		records: make(map[string]Record, len(m.byID)), shadow: m.shadow}
	for k, sl := range m.reg.Slots {
		c := *sl
		c.Previous = slices.Clone(sl.Previous)
		cp.slots[k] = c
	}
	for id, r := range m.byID {
		c := *r
		c.Transitions = slices.Clone(r.Transitions)
		cp.records[id] = c
	}
	return cp
}

// rewind puts back the state of cp. m.mu is held.
func (m *Manager) rewind(cp checkpoint) {
	m.reg.Slots = make(map[string]*slot, len(cp.slots))
	for k, sl := range cp.slots {
		c := sl
		m.reg.Slots[k] = &c
	}
	m.reg.Activations = cp.activations
	for id, r := range cp.records {
		if p := m.byID[id]; p != nil {
			*p = r
		}
	}
	m.shadow = cp.shadow
}

// lastGood returns the newest plugin of kind's stack that is usable as a
// fallback (loaded, not broken), or nil. m.mu is held.
func (m *Manager) lastGood(kind string) *timed {
	sl := m.reg.Slots[kind]
	if sl == nil {
		return nil
	}
	for i := len(sl.Previous) - 1; i >= 0; i-- {
		id := sl.Previous[i]
		if id == "" {
			return nil
		}
		if id == sl.Active {
			continue
		}
		r := m.byID[id]
		if r == nil || r.State == StateBroken {
			continue
		}
		return m.loaded[id] // nil when not loaded: the base model follows
	}
	return nil
}

// loadFallback loads the newest usable plugin of kind's stack, so that it
// can take the batches the active plugin fails. m.mu is held.
func (m *Manager) loadFallback(ctx context.Context, kind string) {
	sl := m.reg.Slots[kind]
	if sl == nil {
		return
	}
	for i := len(sl.Previous) - 1; i >= 0; i-- {
		id := sl.Previous[i]
		if id == "" {
			return
		}
		if r := m.byID[id]; id == sl.Active || r == nil || r.State == StateBroken {
			continue
		}
		if _, err := m.ensureLoaded(ctx, id); err != nil {
			m.log.Warn("models: fallback plugin cannot be loaded", "kind", kind, "id", id, "err", err)
		}
		return
	}
}

// models builds the engine's models from the registry. m.mu is held.
func (m *Manager) models() engine.Models {
	b := m.cfg.Base
	mm := engine.Models{Predictor: b.Predictor, Scorer: b.Scorer,
		PredictorFallback: slices.Clone(b.PredictorFallback), ScorerFallback: slices.Clone(b.ScorerFallback)}
	if sl := m.reg.Slots[KindScorer]; sl != nil && sl.Probation {
		if g := m.lastGood(KindScorer); g != nil {
			mm.Scorer = g
			mm.ScorerFallback = append([]abi.Scorer{b.Scorer}, b.ScorerFallback...)
		}
	} else if sl != nil && sl.Active != "" {
		if t := m.loaded[sl.Active]; t != nil {
			mm.Scorer = t
			mm.ScorerFallback = nil
			if g := m.lastGood(KindScorer); g != nil {
				mm.ScorerFallback = append(mm.ScorerFallback, g)
			}
			mm.ScorerFallback = append(append(mm.ScorerFallback, b.Scorer), b.ScorerFallback...)
		}
	}
	if sl := m.reg.Slots[KindPredictor]; sl != nil && sl.Probation {
		if g := m.lastGood(KindPredictor); g != nil {
			mm.Predictor = g
			mm.PredictorFallback = append([]abi.Predictor{b.Predictor}, b.PredictorFallback...)
		}
	} else if sl != nil && sl.Active != "" {
		if t := m.loaded[sl.Active]; t != nil {
			mm.Predictor = t
			mm.PredictorFallback = nil
			if g := m.lastGood(KindPredictor); g != nil {
				mm.PredictorFallback = append(mm.PredictorFallback, g)
			}
			mm.PredictorFallback = append(append(mm.PredictorFallback, b.Predictor), b.PredictorFallback...)
		}
	}
	if o := m.shadow; o != nil {
		if t := m.loaded[o.id]; t != nil {
			mm.Shadow, mm.ShadowShare, mm.ShadowObserver = t, o.share, o
		}
	}
	return mm
}

// apply sets the models on the engine. m.mu is held.
func (m *Manager) apply() { m.cfg.Engine.SetModels(m.models()) }

// inUse reports whether the engine's models reference id. m.mu is held.
func (m *Manager) inUse(id string) bool {
	if m.isActive(id) || m.shadow != nil && m.shadow.id == id {
		return true
	}
	for _, k := range []string{KindScorer, KindPredictor} {
		if g := m.lastGood(k); g != nil && g.p.Model().SHA256 == id {
			return true
		}
	}
	return false
}

// scheduleUnused unloads, after CloseDelay, the plugins that the engine no
// longer uses and that are retired or broken (a stored plugin stays loaded:
// it was just uploaded, and shadowing or activating it should be quick).
// m.mu is held.
func (m *Manager) scheduleUnused(now time.Time) {
	for id, t := range m.loaded {
		r := m.byID[id]
		if r == nil || m.inUse(id) || r.State == StateStored {
			continue
		}
		delete(m.loaded, id)
		r.Counters.add(t.counters())
		m.closing = append(m.closing, closing{t: t, at: now.Add(m.cfg.CloseDelay)})
	}
}

// persist writes registry.json (nothing without a data directory). m.mu is
// held.
func (m *Manager) persist() error {
	if m.cfg.Dir == "" {
		return nil
	}
	f := *m.reg
	f.Plugins = make([]*Record, len(m.reg.Plugins))
	for i, r := range m.reg.Plugins {
		cp := m.snapshot(r)
		f.Plugins[i] = &cp
	}
	b, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return fmt.Errorf("models: encode registry: %w", err)
	}
	if err := writeFile(filepath.Join(m.cfg.Dir, "registry.json"), b); err != nil {
		return &StorageError{What: "registry", Err: err}
	}
	return nil
}

// ----------------------------------------------------------------- safety

// watch checks the active plugins' breakers every WatchInterval and closes
// plugins whose CloseDelay has passed, until Close.
func (m *Manager) watch() {
	defer close(m.done)
	tk := time.NewTicker(m.cfg.WatchInterval)
	defer tk.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tk.C:
			m.check()
		}
	}
}

// check rolls back every active plugin whose breaker is open and closes the
// plugins due.
func (m *Manager) check() {
	ctx := context.Background()
	m.mu.Lock()
	now := m.cfg.Now()
	for _, kind := range []string{KindScorer, KindPredictor} {
		sl := m.reg.Slots[kind]
		if sl == nil || sl.Active == "" {
			continue
		}
		t := m.loaded[sl.Active]
		if t == nil {
			continue
		}
		s := t.p.Stats()
		slow, slowWhy := m.tooSlow(t, kind, now)
		if sl.Probation && kind == KindScorer && m.shadow != nil && m.shadow.id == sl.Active {
			o := m.shadow
			switch {
			case slow:
				m.failTrial(kind, sl.Active, "in shadow: too slow: "+slowWhy)
			case s.Failures > 0 || o.errors.Load() > 0:
				why := "a shadow batch failed"
				if n := len(s.LastFailures); n > 0 {
					why = s.LastFailures[n-1].Error
				}
				m.failTrial(kind, sl.Active, "in shadow: "+why)
			case o.batches.Load() >= m.cfg.ProbationBatches:
				m.passTrial(kind, fmt.Sprintf("%d batches in shadow without a failure", o.batches.Load()))
			case now.Sub(o.started) >= m.cfg.ProbationTime:
				m.passTrial(kind, fmt.Sprintf("%v in shadow without a failure (%d batches)", m.cfg.ProbationTime, o.batches.Load()))
			default:
				continue
			}
			m.apply()
			if err := m.persist(); err != nil {
				m.log.Error("models: persist", "err", err)
			}
			continue
		}
		if !s.BreakerOpen && !slow {
			continue
		}
		reason := "automatic rollback: breaker open: " + s.BreakerCause
		cause := s.BreakerCause
		if !s.BreakerOpen {
			reason, cause = "automatic rollback: too slow: "+slowWhy, "too slow: "+slowWhy
		}
		from := sl.Active
		act, err := m.rollbackLocked(ctx, kind, Actor{By: "system"}, reason, StateBroken)
		if err != nil {
			m.log.Error("models: automatic rollback failed", "kind", kind, "err", err)
			continue
		}
		m.reg.AutoRollbacks = append(m.reg.AutoRollbacks, AutoRollback{Time: now, Kind: kind, From: act.From, To: act.To, Reason: reason})
		if n := len(m.reg.AutoRollbacks); n > 100 {
			m.reg.AutoRollbacks = slices.Delete(m.reg.AutoRollbacks, 0, n-100)
		}
		m.autoRollbacks.Add(1)
		if m.cfg.OnEvent != nil {
			m.cfg.OnEvent("plugin_failure", map[string]any{"kind": kind, "plugin": from, "cause": cause, "rolled_back_to": act.To})
		}
		m.log.Error("models: active plugin broke; rolled back automatically", "kind", kind, "id", from, "to", act.To.ID, "cause", cause)
		if err := m.persist(); err != nil {
			m.log.Error("models: persist", "err", err)
		}
	}
	var due []*timed
	m.closing = slices.DeleteFunc(m.closing, func(c closing) bool {
		if !now.Before(c.at) {
			due = append(due, c.t)
			return true
		}
		return false
	})
	m.mu.Unlock()
	for _, t := range due {
		_ = t.p.Close(ctx)
	}
}

// tooSlow applies the latency budget (Config.SlowFactor) to kind's active
// plugin t. m.mu is held.
func (m *Manager) tooSlow(t *timed, kind string, now time.Time) (bool, string) {
	if m.slow == nil {
		return false, ""
	}
	b := m.cfg.Options.Breaker
	if b.Failures == 0 {
		b.Failures = plugins.DefaultBreakerCount
	}
	if b.Window == 0 {
		b.Window = plugins.DefaultBreakerWindow
	}
	if ok, last := t.slowTripped(now, b.Failures, b.Window); ok {
		return true, fmt.Sprintf("%d batches over their latency budget within %v, last: %s", b.Failures, b.Window, last)
	}
	base := m.slow.scoreNs
	if kind == KindPredictor {
		base = m.slow.predictNs
	}
	return t.rateCheck(base)
}

// Status is the summary /system/status shows.
type Status struct {
	Active map[string]Ref `json:"active"`           // by kind
	Shadow *Ref           `json:"shadow,omitempty"` // the plugin in shadow
	// Plugins counts the registry's plugins by state.
	Plugins       map[State]int `json:"plugins"`
	Activations   uint64        `json:"activations"`
	AutoRollbacks uint64        `json:"auto_rollbacks"`
	LastAuto      *AutoRollback `json:"last_auto_rollback,omitempty"`
	// Probation names, by kind, the plugins on trial after an unclean stop
	// (Active then names the model in use meanwhile).
	Probation map[string]Ref `json:"probation,omitempty"`
}

// Status returns the summary.
func (m *Manager) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := Status{Active: map[string]Ref{}, Plugins: map[State]int{},
		Activations: m.activations.Load(), AutoRollbacks: m.autoRollbacks.Load()}
	for _, k := range []string{KindScorer, KindPredictor} {
		id := ""
		if sl := m.reg.Slots[k]; sl != nil {
			id = sl.Active
		}
		if sl := m.reg.Slots[k]; sl != nil && sl.Probation {
			if s.Probation == nil {
				s.Probation = map[string]Ref{}
			}
			s.Probation[k] = m.ref(id)
			id = ""
			if g := m.lastGood(k); g != nil {
				id = g.p.Model().SHA256
			}
		}
		if id == "" {
			s.Active[k] = m.baseRef(k)
		} else {
			s.Active[k] = m.ref(id)
		}
	}
	if m.shadow != nil {
		r := m.ref(m.shadow.id)
		s.Shadow = &r
	}
	for _, r := range m.reg.Plugins {
		s.Plugins[r.State]++
	}
	if n := len(m.reg.AutoRollbacks); n > 0 {
		a := m.reg.AutoRollbacks[n-1]
		s.LastAuto = &a
	}
	return s
}

// ModelStatus returns Status for /system/status.
func (m *Manager) ModelStatus() any { return m.Status() }

// Close stops the breaker watch, writes the registry with the final
// counters and closes every loaded plugin. The engine keeps its models:
// stop it first.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	close(m.stop)
	<-m.done
	m.trials.Wait()
	m.mu.Lock()
	m.reg.Running = false
	err := m.persist()
	m.mu.Unlock()
	m.closeAll(ctx)
	return err
}

func (m *Manager) closeAll(ctx context.Context) {
	m.mu.Lock()
	var all []*timed
	for id, t := range m.loaded {
		all = append(all, t)
		delete(m.loaded, id)
	}
	for _, c := range m.closing {
		all = append(all, c.t)
	}
	m.closing = nil
	m.mu.Unlock()
	for _, t := range all {
		_ = t.p.Close(ctx)
	}
}
