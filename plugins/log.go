package plugins

import (
	"bytes"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// maxLine caps one logged guest line; longer lines are cut.
const maxLine = 512

// guestLog turns a guest's stdout or stderr into slog records, one per line,
// rate limited by a token bucket (Options.LogLinesPerSecond, LogBurst).
// Dropped lines are counted and reported with the next line that passes.
type guestLog struct {
	mu      sync.Mutex
	logger  *slog.Logger
	stream  string
	buf     []byte
	rate    float64
	burst   float64
	tokens  float64
	last    time.Time
	pending uint64 // dropped since the last logged line
	dropped atomic.Uint64
}

func newGuestLog(o Options, stream string) *guestLog {
	return &guestLog{logger: o.Logger, stream: stream, rate: o.LogLinesPerSecond,
		burst: float64(o.LogBurst), tokens: float64(o.LogBurst), last: time.Now()}
}

// Write implements io.Writer for wazero's ModuleConfig.WithStdout/WithStderr.
func (g *guestLog) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLine - len(g.buf)
			if room > 0 {
				g.buf = append(g.buf, p[:min(room, len(p))]...)
			}
			break
		}
		line := p[:i]
		if len(g.buf) > 0 {
			room := maxLine - len(g.buf)
			g.buf = append(g.buf, line[:max(0, min(room, len(line)))]...)
			line = g.buf
		}
		g.emit(line)
		g.buf = g.buf[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (g *guestLog) emit(line []byte) {
	now := time.Now()
	g.tokens = min(g.burst, g.tokens+now.Sub(g.last).Seconds()*g.rate)
	g.last = now
	if g.tokens < 1 {
		g.pending++
		g.dropped.Add(1)
		return
	}
	g.tokens--
	if len(line) > maxLine {
		line = line[:maxLine]
	}
	attrs := []any{slog.String("stream", g.stream), slog.String("line", string(line))}
	if g.pending > 0 {
		attrs = append(attrs, slog.Uint64("dropped_before", g.pending))
		g.pending = 0
	}
	g.logger.Info("plugin output", attrs...)
}
