package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/tetratelabs/wazero"
)

// RuntimeConfig configures a Runtime. The zero value keeps compiled code in
// memory only.
type RuntimeConfig struct {
	// CacheDir, when set, keeps compiled modules on disk so that a restart
	// loads a known module in tens of milliseconds instead of compiling it
	// again (about 0.5 s for a Go plugin). Typically <data dir>/wasm-cache.
	// Default "": in memory only.
	CacheDir string
}

// Runtime owns the compilation caches that plugins share. One Runtime per
// process is typical; it is safe for concurrent use.
//
// wazero keys its cache by the module's sha256 only, but the machine code it
// caches depends on runtime settings (WithCloseOnContextDone compiles a
// termination check into every loop; the memory limit is applied at
// compilation). Code compiled without the check and reused with it could
// never be stopped. So Runtime keeps one wazero cache per settings key, and a
// module is found again only under the same settings.
type Runtime struct {
	cfg     RuntimeConfig
	mu      sync.Mutex
	caches  map[string]wazero.CompilationCache
	keepers map[string]*keeper
	closed  bool
}

// maxKept bounds the compiled modules a Runtime keeps after their plugins
// close, per settings key.
const maxKept = 8

// keeper holds compiled modules alive in a wazero runtime of its own, so that
// loading a module again (a rollback, a second plugin of the same module, a
// conformance run before activation) finds its machine code in the shared
// in-memory cache: wazero drops compiled code when the last runtime using it
// closes.
type keeper struct {
	rt   wazero.Runtime
	mods map[[32]byte]wazero.CompiledModule
	lru  [][32]byte // oldest first
}

// NewRuntime returns a Runtime; it creates cfg.CacheDir if it is set.
func NewRuntime(cfg RuntimeConfig) (*Runtime, error) {
	if cfg.CacheDir != "" {
		if err := os.MkdirAll(cfg.CacheDir, 0o755); err != nil {
			return nil, fmt.Errorf("plugins: cache dir: %w", err)
		}
	}
	return &Runtime{cfg: cfg, caches: map[string]wazero.CompilationCache{}, keepers: map[string]*keeper{}}, nil
}

// settingsKey names the runtime settings that change compiled code.
func settingsKey(l Limits) string {
	return fmt.Sprintf("wazero=v1.12.0;close_on_context_done=true;entry_checks=%d;features=v2;memory_pages=%d", instrumentVersion, l.MemoryPages)
}

// cache returns the compilation cache for the settings of l.
func (r *Runtime) cache(l Limits) (wazero.CompilationCache, string, error) {
	key := settingsKey(l)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, key, ErrClosed
	}
	if c, ok := r.caches[key]; ok {
		return c, key, nil
	}
	var c wazero.CompilationCache
	if r.cfg.CacheDir == "" {
		c = wazero.NewCompilationCache()
	} else {
		sum := sha256.Sum256([]byte(key))
		var err error
		c, err = wazero.NewCompilationCacheWithDir(filepath.Join(r.cfg.CacheDir, hex.EncodeToString(sum[:8])))
		if err != nil {
			return nil, key, fmt.Errorf("plugins: compilation cache: %w", err)
		}
	}
	r.caches[key] = c
	return c, key, nil
}

// keep compiles module (sha256 sum) into the keeper for l's settings unless
// it is there already, so that the plugin runtime's compilation is a cache
// hit. It returns the compilation error, if any.
func (r *Runtime) keep(ctx context.Context, l Limits, sum [32]byte, module []byte) error {
	c, key, err := r.cache(l)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.keepers[key]
	if k == nil {
		cfg := wazero.NewRuntimeConfig().WithCloseOnContextDone(true).
			WithMemoryLimitPages(l.MemoryPages).WithCompilationCache(c)
		k = &keeper{rt: wazero.NewRuntimeWithConfig(ctx, cfg), mods: map[[32]byte]wazero.CompiledModule{}}
		r.keepers[key] = k
	}
	if _, ok := k.mods[sum]; ok {
		for i, s := range k.lru { // move to the back
			if s == sum {
				copy(k.lru[i:], k.lru[i+1:])
				k.lru[len(k.lru)-1] = sum
				break
			}
		}
		return nil
	}
	cm, err := k.rt.CompileModule(ctx, module)
	if err != nil {
		return err
	}
	k.mods[sum] = cm
	k.lru = append(k.lru, sum)
	if len(k.lru) > maxKept {
		old := k.lru[0]
		k.lru = k.lru[1:]
		_ = k.mods[old].Close(ctx)
		delete(k.mods, old)
	}
	return nil
}

// compiledModules counts the modules the keepers hold (for tests).
func (r *Runtime) compiledModules() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, k := range r.keepers {
		n += len(k.mods)
	}
	return n
}

// newWazero returns a wazero runtime with the settings every plugin gets:
// deadline enforcement always on, the plugin's memory limit, the shared cache.
func (r *Runtime) newWazero(ctx context.Context, l Limits) (wazero.Runtime, error) {
	c, _, err := r.cache(l)
	if err != nil {
		return nil, err
	}
	// NewRuntimeConfig picks the compiler where wazero supports the platform
	// (amd64, arm64) and the interpreter elsewhere.
	cfg := wazero.NewRuntimeConfig().
		WithCloseOnContextDone(true).
		WithMemoryLimitPages(l.MemoryPages).
		WithCompilationCache(c)
	return wazero.NewRuntimeWithConfig(ctx, cfg), nil
}

// Close releases the caches (the on-disk cache stays). Plugins loaded from r
// must be closed first.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var first error
	for _, k := range r.keepers {
		if err := k.rt.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	for _, c := range r.caches {
		if err := c.Close(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}
