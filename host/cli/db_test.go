package cli

import (
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/store/postgres/pgtest"
)

// TestDBMigrateAndStatus runs the commands as a user would against a fresh
// database: status lists pending migrations and fails, migrate applies them,
// status then succeeds, a second migrate has nothing to do.
func TestDBMigrateAndStatus(t *testing.T) {
	dsn := pgtest.DB(t)
	r := run(t, nil, "db", "status", "--dsn", dsn)
	if r.code == ExitOK || !strings.Contains(r.stdout, "00001") || !strings.Contains(r.stdout, "pending") || !strings.Contains(r.stderr, "cdp db migrate") {
		t.Fatalf("status of an empty database: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "db", "migrate", "--dsn", dsn, "--to", "1")
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "applied 00001" {
		t.Fatalf("migrate --to 1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "db", "migrate", "--dsn", dsn)
	if r.code != ExitOK || strings.TrimSpace(r.stdout) != "applied 00002\napplied 00003" {
		t.Fatalf("migrate from version 1: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "db", "status", "--dsn", dsn)
	if r.code != ExitOK || strings.Contains(r.stdout, "pending") || !strings.Contains(r.stdout, "00003_locations_copy.sql") {
		t.Fatalf("status after migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = run(t, nil, "db", "migrate", "--dsn", dsn); r.code != ExitOK || !strings.Contains(r.stdout, "up to date") {
		t.Fatalf("migrate again: exit %d\n%s", r.code, r.stdout)
	}
	if r = run(t, nil, "db", "status"); r.code == ExitOK || !strings.Contains(r.stderr, "database.postgres.dsn") {
		t.Fatalf("no dsn: exit %d %s", r.code, r.stderr)
	}
	if r = run(t, nil, "db", "status", "--dsn", "postgres://postgres@127.0.0.1:1/x?connect_timeout=2"); r.code == ExitOK || !strings.Contains(r.stderr, "unavailable") {
		t.Fatalf("unreachable: exit %d %s", r.code, r.stderr)
	}
}
