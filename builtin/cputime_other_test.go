//go:build !linux

package builtin_test

import "time"

var epoch = time.Now()

// threadCPU falls back to wall time where the thread CPU clock is not wired.
func threadCPU() time.Duration { return time.Since(epoch) }

const cpuClock = "wall"

func lockThread() func() { return func() {} }
