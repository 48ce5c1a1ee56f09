package api

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// trackingListener remembers the connections it accepted that have not sent
// a byte yet. fasthttp counts such a connection (a client's spare, dialled
// ahead of need, as browsers and net/http do) as active until ReadTimeout,
// so a graceful shutdown would wait for it; Shutdown closes them instead.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	unused map[*trackedConn]time.Time // accept time
}

func newTrackingListener(ln net.Listener) *trackingListener {
	return &trackingListener{Listener: ln, unused: make(map[*trackedConn]time.Time)}
}

// Accept implements net.Listener.
func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.unused[tc] = time.Now()
	l.mu.Unlock()
	return tc, nil
}

// closeUnused closes the connections that have not sent a byte since
// accepted at least grace ago (a younger one may have its request in flight,
// not yet read).
func (l *trackingListener) closeUnused(grace time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	for c, at := range l.unused {
		if now.Sub(at) >= grace {
			_ = c.Conn.Close()
			delete(l.unused, c)
		}
	}
}

func (l *trackingListener) forget(c *trackedConn) {
	l.mu.Lock()
	delete(l.unused, c)
	l.mu.Unlock()
}

// trackedConn leaves its listener's unused set at its first byte read or at
// close. After that, Read costs one atomic load more than the bare conn.
type trackedConn struct {
	net.Conn
	l    *trackingListener
	used atomic.Bool
}

// Read implements net.Conn.
func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && !c.used.Load() {
		c.used.Store(true)
		c.l.forget(c)
	}
	return n, err
}

// Close implements net.Conn.
func (c *trackedConn) Close() error {
	if !c.used.Swap(true) {
		c.l.forget(c)
	}
	return c.Conn.Close()
}

var (
	_ net.Listener = (*trackingListener)(nil)
	_ net.Conn     = (*trackedConn)(nil)
)
