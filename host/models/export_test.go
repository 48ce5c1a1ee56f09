package models

import "github.com/collision-detection-platform/distributed-platform/plugins/wasmtest"

// Exported for the external tests (models_test), which drive the manager
// through the REST API (api imports this package, so those tests cannot live
// in package models).
var (
	ExampleModule = example
	ZeroScorer    = wasmtest.ZeroScorer
	TimeBomb      = wasmtest.TimeBomb
)

// BadUpload is a module the registry must refuse, and what the refusal says.
type BadUpload struct {
	Name, Cause, Want string
	Module            []byte
}

// BadUploads returns one module per refusal cause; good is a valid module
// (truncated for the compile case). The limits they assume: 64 KiB modules,
// 300 ms init.
func BadUploads(good []byte) []BadUpload {
	return []BadUpload{
		{"not wasm", RefusedNotWasm, "magic bytes", []byte("#!/bin/sh\necho hello\n")},
		{"truncated", RefusedCompile, "section", good[:len(good)/2]},
		{"over the size limit", RefusedTooLarge, "over the limit of 65536", wasmtest.Hostile{Data: []wasmtest.Data{{Offset: 8192, Bytes: make([]byte, 70<<10)}}}.Module()},
		{"wrong ABI version", RefusedABIVersion, "plugin speaks ABI 2.0, host speaks 1.0", wasmtest.Hostile{Version: 2 << 16}.Module()},
		{"missing export", RefusedExports, "missing export cdp_alloc", wasmtest.Hostile{NoAlloc: true}.Module()},
		{"failing conformance", RefusedConformance, "score-edge",
			wasmtest.Hostile{Manifest: `{"name":"zero","version":"1","kind":"scorer","matches_builtin":true}`}.Module()},
		{"looping init", RefusedInit, "init time limit of 300ms", wasmtest.Hostile{Init: wasmtest.Code{}.Spin().I32(0)}.Module()},
	}
}

// FailWrites makes the registry's file writes fail with err until the
// returned function restores them.
func FailWrites(err error) (restore func()) {
	writeFile = func(string, []byte) error { return err }
	return func() { writeFile = writeFileAtomic }
}
