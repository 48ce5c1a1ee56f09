package models

import (
	"context"
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/builtin"
	"github.com/collision-detection-platform/distributed-platform/host/engine"
	"github.com/collision-detection-platform/distributed-platform/plugins"
	"github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"
)

// A plugin's life: upload (validated first), activate, roll back; a module
// that is not Wasm is refused with the reason.
func Example() {
	ctx := context.Background()
	eng, _ := engine.New(engine.Default(), engine.Models{Predictor: builtin.Predictor{}, Scorer: builtin.Scorer{}})
	rt, _ := plugins.NewRuntime(plugins.RuntimeConfig{})
	defer rt.Close(ctx)
	m, err := New(ctx, Config{Engine: eng, Runtime: rt, Logger: quietLogger(), Options: plugins.Options{Logger: quietLogger()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close(ctx)

	rec, _, err := m.Upload(ctx, Upload{Module: wasmtest.ZeroScorer("zero", "1.0.0"), Kind: "scorer"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rec.Name, rec.Version, rec.State)
	m.Activate(ctx, rec.ID[:8], Actor{})
	fmt.Println("scoring with", eng.Models().Scorer.Model().Name)
	act, _ := m.Rollback(ctx, KindScorer, Actor{})
	fmt.Println("rolled back from", act.From.Name, "to", act.To.Name)

	_, _, err = m.Upload(ctx, Upload{Module: []byte("MZ\x90\x00"), Kind: "scorer"})
	re, _ := IsRefused(err)
	fmt.Println(re.Cause+":", re.Message)
	// Output:
	// zero 1.0.0 stored
	// scoring with zero
	// rolled back from zero to builtin-cpa
	// not_wasm: not a WebAssembly module: it does not start with the magic bytes \0asm
}
