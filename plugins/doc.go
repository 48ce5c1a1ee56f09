// Package plugins runs Wasm models (ABI v1, abi/SPEC.md) in a wazero
// sandbox and serves them as abi.Scorer and abi.Predictor.
//
// A process keeps one Runtime (it owns the compilation caches, in memory or
// under RuntimeConfig.CacheDir) and loads each module with Runtime.Load:
//
//	rt, _ := plugins.NewRuntime(plugins.RuntimeConfig{CacheDir: dataDir + "/wasm-cache"})
//	p, err := rt.Load(ctx, module, plugins.Options{
//		Config:   pluginJSON,            // passed to cdp_init
//		Fallback: lastGood,              // scores a batch when the plugin fails
//		Limits:   plugins.Limits{BatchTimeout: 100 * time.Millisecond},
//	})
//	// err wraps plugins.ErrRefused and names the cause when the module is unusable.
//	id, err := p.ScoreModel(ctx, params, vehicles, pairs, results)
//	// id names the model that produced results: p.Model(), or the fallback's.
//
// Load compiles the module (cached by sha256 and runtime settings), checks
// its imports (wasi_snapshot_preview1 only) and exports, and creates a first
// instance, which runs _initialize, reads cdp_abi_version and the manifest,
// and calls cdp_init. A Plugin keeps a pool of Options.Instances instances
// (one per concurrent caller; a wazero instance is not safe for concurrent
// use), created on demand.
//
// Every guest call runs under a time limit enforced by wazero's
// WithCloseOnContextDone (always on: a module that loops without it could
// never be stopped and would stall the whole process at the next garbage
// collection). A trap, a timeout, proc_exit, a non-zero status or malformed
// output (wrong out_count, NaN, risk outside [0, 1], negative distance, TCA
// outside the horizon, a box that misses its vehicle) discards the instance,
// counts the failure with its reason (Stats), and has Options.Fallback score
// the batch; Options.Breaker takes the plugin out of service after repeated
// failures until Reset.
//
// Conformance runs a module against the vectors in abi/testdata; the
// `cdp plugin test FILE.wasm` command prints its Report.
package plugins
