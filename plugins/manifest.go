package plugins

import (
	"encoding/json"
	"fmt"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Manifest is what a plugin says about itself (SPEC.md, section 2.3).
type Manifest struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Kind        string `json:"kind"`
	Description string `json:"description,omitempty"`
	// MatchesBuiltin: the plugin claims the builtin model's exact outputs;
	// conformance then compares every field instead of checking ranges.
	MatchesBuiltin bool `json:"matches_builtin,omitempty"`
	// Stateful is reserved; ABI 1.0 hosts refuse true.
	Stateful bool `json:"stateful,omitempty"`
}

// ModelKind returns the manifest's kind as an abi.Kind (0 if unknown).
func (m Manifest) ModelKind() abi.Kind {
	switch m.Kind {
	case "scorer":
		return abi.KindScorer
	case "predictor":
		return abi.KindPredictor
	case "predictor+scorer", "scorer+predictor":
		return abi.KindPredictor | abi.KindScorer
	}
	return 0
}

func parseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("manifest is not JSON: %w", err)
	}
	if !validName(m.Name) {
		return m, fmt.Errorf("manifest name %q: want 1..64 characters of [A-Za-z0-9._-]", m.Name)
	}
	if len(m.Version) == 0 || len(m.Version) > 64 || !printable(m.Version) {
		return m, fmt.Errorf("manifest version %q: want 1..64 printable characters", m.Version)
	}
	if m.ModelKind() == 0 {
		return m, fmt.Errorf("manifest kind %q: want \"scorer\", \"predictor\" or \"predictor+scorer\"", m.Kind)
	}
	if m.Stateful {
		return m, fmt.Errorf("manifest declares stateful: true, which ABI 1.0 hosts do not support")
	}
	return m, nil
}

func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
