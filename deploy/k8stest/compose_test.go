package k8stest

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// deploy/compose.yaml is a valid compose project (the compose schema, as
// `docker compose config` checks it): the whole platform with its volumes
// and file secrets, every cdp service on the image with a healthcheck,
// read-only, and only cdp configuration keys in its environment.
func TestComposeStack(t *testing.T) {
	// The secret files are generated (deploy/secrets/generate.sh), not
	// committed: give the loader some in a copy of the layout.
	dir := t.TempDir()
	for _, f := range []string{"compose.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	os.MkdirAll(filepath.Join(dir, "secrets"), 0o755)
	for _, s := range []string{"postgres_password", "postgres_pgpass", "redis_password", "grafana_admin_password"} {
		os.WriteFile(filepath.Join(dir, "secrets", s+".txt"), []byte("x"), 0o600)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")}, cli.WithName("cdp"), cli.WithResolvedPaths(false))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var names []string
	for n := range p.Services {
		names = append(names, n)
	}
	for _, want := range []string{"cdp-api", "cdp-compute-1", "cdp-compute-2", "kafka", "postgres", "redis", "prometheus", "grafana"} {
		if !slices.Contains(names, want) {
			t.Errorf("no service %s (have %v)", want, names)
		}
	}
	if len(p.Secrets) != 4 || len(p.Volumes) < 6 {
		t.Errorf("secrets %d, volumes %d", len(p.Secrets), len(p.Volumes))
	}
	if img := p.Services["postgres"].Image; !strings.Contains(img, "timescaledb") {
		t.Errorf("postgres image %s, want TimescaleDB", img)
	}
	if env := p.Services["kafka"].Environment["KAFKA_PROCESS_ROLES"]; env == nil || *env != "broker,controller" {
		t.Errorf("kafka is not a KRaft broker+controller: %v", env)
	}
	for _, n := range []string{"cdp-api", "cdp-compute-1", "cdp-compute-2"} {
		s := p.Services[n]
		if !s.ReadOnly || s.Build == nil || len(s.Volumes) == 0 || s.Volumes[0].Target != "/var/lib/cdp" {
			t.Errorf("%s: read-only %v, build %v, volumes %v", n, s.ReadOnly, s.Build, s.Volumes)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			if v != nil && strings.HasPrefix(k, "CDP_") {
				env[k] = *v
			}
		}
		if env["CDP_SYSTEM_NAME"] != n {
			t.Errorf("%s: system.name %q", n, env["CDP_SYSTEM_NAME"])
		}
		if !strings.HasPrefix(env["CDP_DATABASE_POSTGRES_DSN"], "postgres://cdp@postgres:5432/") || s.Environment["PGPASSFILE"] == nil {
			t.Errorf("%s: the PostgreSQL store is not configured with its password from a file", n)
		}
		checkEnv(t, n, env)
	}
}
