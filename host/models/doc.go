// Package models is the plugin registry and the owner of the engine's
// models: it takes uploaded Wasm modules, validates them, stores them by
// sha256, runs one in shadow beside the active scorer, activates, rolls back
// and watches the active plugins, so that an operator replaces the risk or
// prediction model of a live server in one call.
//
//	m, _ := models.New(ctx, models.Config{Engine: eng, Runtime: rt, Dir: dataDir + "/plugins"})
//	rec, err := m.Upload(ctx, models.Upload{Module: wasm, Kind: "scorer"})
//	// err is a *RefusedError that says why a module was refused.
//	m.Shadow(ctx, rec.ID, models.ShadowRequest{Share: 0.1})
//	m.Activate(ctx, rec.ID, models.Actor{})
//	m.Rollback(ctx, "scorer", models.Actor{})
//
// The registry (registry.json, written atomically) keeps per plugin its
// manifest, configuration, state (stored, shadow, active, retired, broken)
// and every transition with the request that caused it, cumulative counters
// and failures, the last shadow comparison; and the activation history. New
// loads it back and re-activates what was active. See RATIONALE.md.
package models
