//go:build unix

package engine

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time. On a shared machine
// it measures a benchmark's own work better than the wall clock, which
// counts the time other processes hold the CPU.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
