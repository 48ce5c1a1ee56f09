package plugins

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
