package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/collision-detection-platform/distributed-platform/abi"
	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/host/security"
	"github.com/collision-detection-platform/distributed-platform/plugins"
)

func init() { loadPluginModels = loadWasmModels }

// PluginOptions maps plugins.limits and one plugin's JSON config onto the
// runtime's options. The builtin models are the fallback of last resort.
func PluginOptions(cfg config.Config, pc config.Plugin, logger *slog.Logger) (plugins.Options, error) {
	raw := json.RawMessage("{}")
	if len(pc.Config) > 0 {
		b, err := json.Marshal(pc.Config)
		if err != nil {
			return plugins.Options{}, fmt.Errorf("plugin config: %w", err)
		}
		raw = b
	}
	l := cfg.Plugins.Limits
	classes, err := Classes(cfg)
	if err != nil {
		return plugins.Options{}, err
	}
	// By abi class index, as ingest numbers the classes.
	speeds := make([]float64, classes.Len())
	for i := range speeds {
		speeds[i] = cfg.CollisionDetection.Classes[classes.Name(uint32(i))].MaxSpeed
	}
	return plugins.Options{
		Config: raw,
		Limits: plugins.Limits{
			MemoryPages:    uint32(l.MemoryPages),
			BatchTimeout:   l.BatchTimeout,
			InitTimeout:    l.InitTimeout,
			MaxModuleBytes: l.MaxModuleBytes,
			MaxCallDepth:   uint32(l.MaxCallDepth),
		},
		MaxSpeeds:         speeds,
		Instances:         cfg.Compute.MaxWorkers,
		Fallback:          builtin.Scorer{},
		FallbackPredictor: builtin.Predictor{},
		Logger:            logger,
	}, nil
}

// NewPluginRuntime returns the runtime of a node: compiled modules are cached
// under <system.data_dir>/wasm-cache when a data directory is set.
func NewPluginRuntime(cfg config.Config) (*plugins.Runtime, error) {
	var rc plugins.RuntimeConfig
	if cfg.System.DataDir != "" {
		rc.CacheDir = filepath.Join(cfg.System.DataDir, "wasm-cache")
	}
	return plugins.NewRuntime(rc)
}

// loadWasmModels loads the modules plugins.predictor.path and
// plugins.scorer.path name, in place of the builtin ones.
func loadWasmModels(cfg config.Config, m engine.Models, logger *slog.Logger) (engine.Models, error) {
	if logger == nil {
		logger = slog.Default()
	}
	rt, err := NewPluginRuntime(cfg)
	if err != nil {
		return m, err
	}
	load := func(key string, pc config.Plugin) (*plugins.Plugin, error) {
		module, err := os.ReadFile(pc.Path)
		if err != nil {
			return nil, fmt.Errorf("host: %s: %w", key, err)
		}
		if err := verifyPluginFile(cfg, key, pc.Path, module); err != nil {
			return nil, err
		}
		opts, err := PluginOptions(cfg, pc, logger)
		if err != nil {
			return nil, fmt.Errorf("host: %s: %w", key, err)
		}
		p, err := rt.Load(context.Background(), module, opts)
		if err != nil {
			return nil, fmt.Errorf("host: %s (%s): %w", key, pc.Path, err)
		}
		id := p.Model()
		logger.Info("loaded Wasm model", "key", key, "name", id.Name, "version", id.Version, "sha256", id.SHA256, "kind", p.Kind().String())
		return p, nil
	}
	if pc := cfg.Plugins.Scorer; pc.Path != "" {
		p, err := load("plugins.scorer.path", pc)
		if err != nil {
			return m, err
		}
		if p.Kind()&abi.KindScorer == 0 {
			return m, fmt.Errorf("host: plugins.scorer.path: %s is a %s, not a scorer", pc.Path, p.Kind())
		}
		m.Scorer = p
		m.ScorerFallback = append(m.ScorerFallback, builtin.Scorer{})
	}
	if pc := cfg.Plugins.Predictor; pc.Path != "" {
		p, err := load("plugins.predictor.path", pc)
		if err != nil {
			return m, err
		}
		if p.Kind()&abi.KindPredictor == 0 {
			return m, fmt.Errorf("host: plugins.predictor.path: %s is a %s, not a predictor", pc.Path, p.Kind())
		}
		m.Predictor = p
		m.PredictorFallback = append(m.PredictorFallback, builtin.Predictor{})
	}
	return m, nil
}

// pluginVerifier is the signature check of plugins.trusted_keys and
// plugins.require_signature, nil when neither is set.
func pluginVerifier(cfg config.Config) (*security.PluginVerifier, error) {
	p := cfg.Plugins
	if len(p.TrustedKeys) == 0 && !p.RequireSignature {
		return nil, nil
	}
	v, err := security.NewPluginVerifier(p.TrustedKeys, p.RequireSignature)
	if err != nil {
		return nil, fmt.Errorf("plugins.trusted_keys: %w", err)
	}
	return v, nil
}

// verifyPluginFile checks the signature PATH.sig of a module named by the
// configuration (plugins.scorer.path, plugins.predictor.path).
func verifyPluginFile(cfg config.Config, key, path string, module []byte) error {
	v, err := pluginVerifier(cfg)
	if err != nil || v == nil {
		return err
	}
	sig, err := os.ReadFile(path + ".sig")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("host: %s: signature: %w", key, err)
	}
	if _, err := v.Verify(module, sig); err != nil {
		return fmt.Errorf("host: %s (%s): refused: %w", key, path, err)
	}
	return nil
}
