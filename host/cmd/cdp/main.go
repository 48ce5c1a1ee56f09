// Command cdp is the collision-detection server and its tools: serve,
// replay, config validate|show, version. Run `cdp --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/collision-detection-platform/distributed-platform/host"
	"github.com/collision-detection-platform/distributed-platform/host/cli"
)

func main() {
	// SIGINT/SIGTERM cancel the context: serve drains and returns, replay
	// stops. A second signal kills the process the default way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.Options{
		Runner: host.Runner{},
	})
	stop()
	os.Exit(code)
}
