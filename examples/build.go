// Package examples builds the example plugins from source, for the tests and
// benchmarks that load them (plugins, host, host/models, api, the engine's
// benchmarks). It is the one place that knows what each example needs: every
// example has a Makefile that takes OUT (the module to write) and BUILD (a
// scratch directory), which `make plugins` uses too.
package examples

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// dir is the examples directory of the source tree this package was built from.
var dir = func() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Dir(f)
}()

// toolchains maps each example to the check of what it needs.
var toolchains = map[string]func() string{
	"go-cpa":         func() string { return "" },
	"pc-foster":      func() string { return "" },
	"turn-predictor": func() string { return "" },
	"c-cpa":          clang,
	"aviation":       clang,
	"as-cpa":         assemblyScript,
	"rust-cpa":       rust,
}

// Names returns the examples that Build knows, sorted.
func Names() []string {
	return []string{"as-cpa", "aviation", "c-cpa", "go-cpa", "pc-foster", "rust-cpa", "turn-predictor"}
}

// Missing returns the tool that building name needs and this machine lacks,
// "" when nothing is missing (.ci/install-toolchains.sh installs them all).
func Missing(name string) string {
	check, ok := toolchains[name]
	if !ok {
		return "an example named " + name
	}
	return check()
}

func clang() string {
	for _, tool := range []string{"clang", "wasm-ld"} {
		if _, err := exec.LookPath(tool); err != nil {
			return tool
		}
	}
	return ""
}

// assemblyScript: the compiler .ci/install-toolchains.sh installs into
// sdk/assemblyscript/node_modules, and node to run it.
func assemblyScript() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node"
	}
	asc := filepath.Join(dir, "..", "sdk", "assemblyscript", "node_modules", ".bin", "asc")
	if _, err := os.Stat(asc); err != nil {
		return "sdk/assemblyscript/node_modules/.bin/asc"
	}
	return ""
}

// rust: Debian's rustc with the wasm32 standard library
// (libstd-rust-dev-wasm32), not the rustup rustc that may be first on PATH.
func rust() string {
	if _, err := os.Stat("/usr/bin/rustc"); err != nil {
		return "/usr/bin/rustc"
	}
	if m, _ := filepath.Glob("/usr/lib/rustlib/wasm32-unknown-unknown/lib/libstd-*.rlib"); len(m) == 0 {
		return "libstd-rust-dev-wasm32"
	}
	return ""
}

// Build builds examples/<name> with its Makefile into outDir and returns the
// module's bytes.
func Build(name, outDir string) ([]byte, error) {
	if _, ok := toolchains[name]; !ok {
		return nil, fmt.Errorf("examples: no example named %q", name)
	}
	if missing := Missing(name); missing != "" {
		return nil, fmt.Errorf("examples: %s needs %s (.ci/install-toolchains.sh installs it)", name, missing)
	}
	build := filepath.Join(outDir, name+"-build")
	if err := os.MkdirAll(build, 0o755); err != nil {
		return nil, err
	}
	out := filepath.Join(outDir, name+".wasm")
	cmd := exec.Command("make", "-s", "-C", filepath.Join(dir, name), "OUT="+out, "BUILD="+build,
		"GO="+filepath.Join(runtime.GOROOT(), "bin", "go"))
	cmd.Env = append(os.Environ(), "GOFLAGS=-trimpath")
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("examples: build %s: %v\n%s", name, err, output.String())
	}
	return os.ReadFile(out)
}

var (
	mu     sync.Mutex
	built  = map[string][]byte{}
	failed = map[string]error{}
)

// Module is Build for tests: each example is built once per test binary and
// its bytes are shared. A missing toolchain fails the test under CI=true
// (where .ci/run has installed every toolchain) and skips it elsewhere.
func Module(tb testing.TB, name string) []byte {
	tb.Helper()
	if missing := Missing(name); missing != "" {
		msg := fmt.Sprintf("%s: %s is not installed (.ci/install-toolchains.sh installs it)", name, missing)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if m, ok := built[name]; ok {
		return m
	}
	if err, ok := failed[name]; ok {
		tb.Fatal(err)
	}
	out, err := os.MkdirTemp("", "cdp-example-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(out)
	m, err := Build(name, out)
	if err != nil {
		failed[name] = err
		tb.Fatal(err)
	}
	built[name] = m
	return m
}

// File is Module written to a file in tb's temporary directory, for the
// code paths that take a path (configuration, the command line).
func File(tb testing.TB, name string) string {
	tb.Helper()
	m := Module(tb, name)
	p := filepath.Join(tb.TempDir(), name+".wasm")
	if err := os.WriteFile(p, m, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
