// Package pgtest gives tests a PostgreSQL database of their own on the
// server of CDP_TEST_POSTGRES_DSN (default: the local server with trust
// authentication, postgres://postgres@127.0.0.1:5432/postgres). Tests that
// use it fail, not skip, when the server is down.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// AdminDSN is the server the tests use.
func AdminDSN() string {
	if d := os.Getenv("CDP_TEST_POSTGRES_DSN"); d != "" {
		return d
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// DB creates a uniquely named database for t, drops it when t ends, and
// returns its DSN.
func DB(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, AdminDSN())
	if err != nil {
		t.Fatalf("PostgreSQL is required (set CDP_TEST_POSTGRES_DSN or run it on 127.0.0.1:5432): %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "cdp_test_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		t.Fatal(err)
	}
	admin.Close(ctx)
	t.Cleanup(func() {
		admin, err := pgx.Connect(ctx, AdminDSN())
		if err != nil {
			t.Error(err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	cfg, _ := pgx.ParseConfig(AdminDSN())
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}
