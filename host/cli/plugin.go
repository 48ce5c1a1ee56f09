package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/plugins"
)

// newPluginCmd: cdp plugin test FILE.wasm (and, with the admin API, the
// commands that manage a server's plugins).
func newPluginCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Check and manage Wasm prediction and scoring models",
		Long: `Work with WebAssembly models (ABI v1, see abi/SPEC.md).

'cdp plugin test FILE.wasm' checks a module offline: the exports and ABI
version it declares, its manifest, and its answers on the conformance vectors
(abi/testdata) against the builtin models. A model that declares itself
different from the builtin is checked for well-formed output instead:
ranges, counts, finiteness and determinism.`,
		Example: `  cdp plugin test examples/c-cpa/cpa.wasm
  cdp plugin test --json my-scorer.wasm`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newPluginTestCmd(a))
	return cmd
}

func newPluginTestCmd(_ *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test FILE.wasm",
		Short: "Run a Wasm module against the conformance vectors",
		Long: `Load the module in the sandbox the server uses, report the exports and ABI
version found, then run every conformance vector: pass or fail with the first
differing field, and the time per scored pair. Exits 1 when the module fails.`,
		Example: `  cdp plugin test bin/plugins/c-cpa.wasm`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			rep := plugins.Conformance(cmd.Context(), module)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.WriteText(out)
			}
			if !rep.Pass {
				return fmt.Errorf("plugin test: %s does not conform", args[0])
			}
			return nil
		},
	}
	boolSwitch(cmd.Flags(), &asJSON, "json", "", "print the report as JSON")
	return cmd
}
