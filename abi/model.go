package abi

import "context"

// Kind says what a model does. A plugin may be both.
type Kind uint32

// Model kinds (bit set).
const (
	KindPredictor Kind = 1 << 0
	KindScorer    Kind = 1 << 1
)

// String returns "predictor", "scorer" or "predictor+scorer".
func (k Kind) String() string {
	switch k {
	case KindPredictor:
		return "predictor"
	case KindScorer:
		return "scorer"
	case KindPredictor | KindScorer:
		return "predictor+scorer"
	}
	return "none"
}

// ModelID names the model that produced a result; every risk event carries it.
type ModelID struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// SHA256 of the Wasm module, hex; "builtin" for the native models.
	SHA256 string `json:"sha256"`
}

// Predictor turns states into trajectories over the horizon.
//
// For each vehicles[i] it writes boxes[i], the bounding box of the predicted
// positions over [T, T+p.Horizon] (not grown: the host adds the hard-body
// radius and the separation margin), and when p.Samples > 0 the positions at
// T + k*p.Horizon/p.Samples, k = 1..p.Samples, into
// samples[i*p.Samples : (i+1)*p.Samples]. The box must contain the current
// position and every sample. Implementations must not retain the slices.
type Predictor interface {
	Model() ModelID
	Predict(ctx context.Context, p Params, vehicles []Vehicle, boxes []Box, samples []Point) error
}

// Scorer rates pairs. For each pairs[i] it writes results[i]; A and B index
// vehicles. Implementations must not retain the slices, and must give the same
// result for the same input (the engine's oracle tests and the hot swap rely on
// it). The pair's reference time is max(A.T, B.T); see SPEC.md, "Scoring".
type Scorer interface {
	Model() ModelID
	Score(ctx context.Context, p Params, vehicles []Vehicle, pairs []Pair, results []Result) error
}
