package models

// Exported for the external tests (models_test), which drive the manager
// through the REST API (api imports this package, so those tests cannot live
// in package models).
var (
	ExampleModule = example
	ZeroScorer    = zeroScorer
	TimeBomb      = timeBomb
)
