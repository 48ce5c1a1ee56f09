package host

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// TestRefusesUnavailableStores: a setting this build cannot honour stops the
// start with an error naming the key, instead of being silently ignored.
func TestRefusesUnavailableStores(t *testing.T) {
	for key, set := range map[string]func(*config.Config){
		"database.redis.addr": func(c *config.Config) { c.Database.Redis.Addr = "127.0.0.1:1" },
	} {
		cfg := config.Default()
		set(&cfg)
		_, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if !errors.Is(err, ErrNotAvailable) || !strings.Contains(err.Error(), key) {
			t.Errorf("%s set: NewNode error %v, want ErrNotAvailable naming the key", key, err)
		}
	}
}

// TestPostgresUnreachableAtStart: a DSN pointing at a closed port stops the
// start with an error naming the key.
func TestPostgresUnreachableAtStart(t *testing.T) {
	cfg := config.Default()
	cfg.Database.Postgres.DSN = "postgres://postgres@127.0.0.1:1/cdp?connect_timeout=2"
	_, err := NewNode(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "database.postgres.dsn") {
		t.Fatalf("NewNode: %v, want an error naming database.postgres.dsn", err)
	}
}
