package host

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/collision-detection-platform/distributed-platform/host/config"
	"github.com/collision-detection-platform/distributed-platform/store/postgres"
	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

// cutProxy forwards TCP connections to target until cut; while cut it
// closes every connection, open and new, so the server looks gone.
type cutProxy struct {
	ln     net.Listener
	target string
	cut    atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.setCut(true); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.cut.Load() {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go func() { defer p.wg.Done(); io.Copy(s, c); s.Close() }()
		go func() { defer p.wg.Done(); io.Copy(c, s); c.Close() }()
	}
}

func (p *cutProxy) setCut(cut bool) {
	p.cut.Store(cut)
	if cut {
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
		p.mu.Unlock()
	}
}

// TestPostgresOutage: under steady simulated ingest, the connection to
// PostgreSQL is cut for some seconds. Detection goes on, /readyz and
// /system/status say the store is down and how much waits, a system event
// marks the outage; once the database is back the queue drains, and every
// risk event of the run is in the database exactly once.
func TestPostgresOutage(t *testing.T) {
	dsn := pgtest.DB(t)
	u, _ := url.Parse(dsn)
	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	cfg := config.Default()
	cfg.Database.Postgres.DSN = u.String()
	var evMu sync.Mutex
	var sysEvents []string
	n, base, stop := startPGNode(t, cfg, 400, func(n *Node) {
		n.onSystemEvent = func(typ string, _ map[string]any) {
			evMu.Lock()
			sysEvents = append(sysEvents, typ)
			evMu.Unlock()
		}
	})
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("first events written", func() bool { return n.Postgres.Stats().Events > 20 })

	proxy.setCut(true)
	before := n.Engine.Stats().Applied
	waitFor("the store to notice", func() bool { return !n.Postgres.Stats().Up })
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "database.postgres.dsn") {
		t.Fatalf("readyz during the outage: %d %s", resp.StatusCode, body)
	}
	time.Sleep(4 * time.Second)
	var status struct {
		Storage struct {
			Postgres postgres.Stats `json:"postgres"`
		} `json:"storage"`
	}
	getStatus(t, base+"/system/status", &status)
	if status.Storage.Postgres.Up || status.Storage.Postgres.QueuedEvents+status.Storage.Postgres.QueuedLocations == 0 {
		t.Fatalf("status during the outage: %+v", status.Storage.Postgres)
	}
	if n.Engine.Stats().Applied <= before {
		t.Fatal("ingest stopped during the outage")
	}

	proxy.setCut(false)
	waitFor("the queue to drain", func() bool {
		s := n.Postgres.Stats()
		return s.Up && s.QueuedEvents == 0
	})
	if code := getStatus(t, base+"/readyz", nil); code != http.StatusOK {
		t.Fatalf("readyz after the outage: %d", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	evMu.Lock()
	got := fmt.Sprint(sysEvents)
	evMu.Unlock()
	if !strings.Contains(got, "store_outage_start") || !strings.Contains(got, "store_outage_end") {
		t.Fatalf("system events: %s", got)
	}
	es := n.Engine.Stats()
	emitted := es.Opened + es.Updated + es.Resolved
	pool, err := postgres.Connect(context.Background(), dsn, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var rows, distinct uint64
	pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT event_id) FROM risk_events`).Scan(&rows, &distinct)
	if rows != emitted || distinct != emitted {
		t.Fatalf("%d rows (%d distinct) in risk_events, the engine emitted %d", rows, distinct, emitted)
	}
	t.Logf("%d risk events, each once; %d written after an outage of 4+ s", emitted, status.Storage.Postgres.QueuedEvents)
}
