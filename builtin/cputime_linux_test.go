package builtin_test

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time consumed by the calling OS thread
// (CLOCK_THREAD_CPUTIME_ID), so that a benchmark on a loaded machine measures
// its own work, not the time it waited for a CPU. The caller must hold
// runtime.LockOSThread.
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

const cpuClock = "cpu"

func lockThread() func() { runtime.LockOSThread(); return runtime.UnlockOSThread }
