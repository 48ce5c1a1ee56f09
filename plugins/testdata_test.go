package plugins

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateHostile = flag.Bool("update-hostile", false, "rewrite plugins/testdata/hostile/*.wasm from the hostile-module table")

// TestHostileTestdata keeps plugins/testdata/hostile/*.wasm, one file per
// hostile case, in step with the table, so that command-line tests (`cdp
// plugin test`) and operators can try them without a Go toolchain. Run with
// -update-hostile after changing the table.
func TestHostileTestdata(t *testing.T) {
	dir := filepath.Join("testdata", "hostile")
	if *updateHostile {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range hostileCases() {
		name := strings.NewReplacer(" ", "-", "/", "-", "_", "-").Replace(c.name) + ".wasm"
		path := filepath.Join(dir, name)
		if c.limits != (Limits{}) {
			continue // refused only under the test's own limits
		}
		mod := c.module()
		if *updateHostile {
			if err := os.WriteFile(path, mod, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		old, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./plugins -run TestHostileTestdata -update-hostile)", err)
		}
		if !bytes.Equal(old, mod) {
			t.Errorf("%s is out of date (go test ./plugins -run TestHostileTestdata -update-hostile)", path)
		}
	}
}

// TestConformanceOnHostileModules: the conformance runner (what `cdp plugin
// test` prints) fails every hostile module with a reason, and returns.
func TestConformanceOnHostileModules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.wasm"))
	if err != nil || len(files) < 20 {
		t.Fatalf("%d hostile modules found (%v)", len(files), err)
	}
	r := mustRuntime(t)
	for _, f := range files {
		mod, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rep := r.Conformance(ctx, mod, Options{Limits: Limits{InitTimeout: 500 * time.Millisecond}, Logger: discardLogger()})
		if rep.Pass {
			t.Errorf("%s passed conformance", f)
			continue
		}
		reason := rep.LoadError
		for _, v := range rep.Vectors {
			if !v.Pass && !v.Skipped && reason == "" {
				reason = v.Name + ": " + v.Detail
			}
		}
		if reason == "" {
			t.Errorf("%s failed without a reason", f)
		}
		t.Logf("%-45s %s", filepath.Base(f), firstLine(reason))
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
