package cli_test

import (
	"context"
	"fmt"
	"os"

	"github.com/collision-detection-platform/distributed-platform/host/cli"
)

// Execute runs one command line in process and returns its exit code; main
// passes os.Args[1:] and a Runner that wires the engine.
func ExampleExecute() {
	code := cli.Execute(context.Background(),
		[]string{"config", "validate", "--no-env", "../../deploy/cdp.example.yaml"},
		cli.Options{Stdout: os.Stdout, Stderr: os.Stdout})
	fmt.Println("exit", code)

	code = cli.Execute(context.Background(),
		[]string{"config", "validate", "--no-env", "--set", "grid.min_size=-5", "../../deploy/cdp.example.yaml"},
		cli.Options{Stdout: os.Stdout, Stderr: os.Stdout})
	fmt.Println("exit", code)
	// Output:
	// ok: ../../deploy/cdp.example.yaml
	// exit 0
	// config: flag --set: grid.min_size: must be > 0, got -5
	// exit 1
}
