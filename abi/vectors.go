package abi

import (
	"embed"
	"fmt"
	"path"
	"sort"
	"strings"
)

// vectorFS holds the conformance vectors (SPEC.md, section 9). The linker
// drops it from binaries that never call Vectors (plugins built with the Go
// SDK among them).
//
//go:embed testdata/*.cdpb
var vectorFS embed.FS

// Vector is one conformance vector: a batch image (header at offset 0) whose
// output table and out_count hold the builtin model's answers.
type Vector struct {
	Name   string // file name without .cdpb, e.g. "score-edge"
	Header Header
	Data   []byte // the image; shared, do not modify
}

// Vectors returns the conformance vectors in name order, decoded and
// validated.
func Vectors() ([]Vector, error) {
	ents, err := vectorFS.ReadDir("testdata")
	if err != nil {
		return nil, fmt.Errorf("abi: vectors: %w", err)
	}
	var out []Vector
	for _, e := range ents {
		b, err := vectorFS.ReadFile(path.Join("testdata", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("abi: vector %s: %w", e.Name(), err)
		}
		h, err := DecodeHeader(b)
		if err != nil {
			return nil, fmt.Errorf("abi: vector %s: %w", e.Name(), err)
		}
		out = append(out, Vector{Name: strings.TrimSuffix(e.Name(), ".cdpb"), Header: h, Data: b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
