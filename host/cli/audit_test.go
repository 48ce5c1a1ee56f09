package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/collision-detection-platform/distributed-platform/host/audit"
)

// `cdp audit verify` passes an intact log and names the line of an edited
// entry and of a removed one.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, audit.FileName)
	sink, err := audit.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.New(context.Background(), sink, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"alice", "bob", "carol", "dave"} {
		log.Record(audit.Entry{Action: "POST /admin/plugins", Subject: who, Address: "10.0.0.1:5000", RequestID: "r-" + who})
	}
	sink.Close()

	r := run(t, nil, "audit", "verify", path)
	if r.code != 0 || !strings.Contains(r.stdout, "4 entries, chain intact") {
		t.Fatalf("intact log: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// The data directory of the configuration is the default place.
	cfg := writeFile(t, "system:\n  data_dir: "+dir+"\n")
	if r := run(t, nil, "audit", "verify", "--config", cfg); r.code != 0 || !strings.Contains(r.stdout, path) {
		t.Fatalf("from system.data_dir: %d %q %q", r.code, r.stdout, r.stderr)
	}

	b, _ := os.ReadFile(path)
	lines := bytes.SplitAfter(b, []byte("\n"))
	edited := filepath.Join(dir, "edited.jsonl")
	os.WriteFile(edited, bytes.Replace(b, []byte(`"subject":"bob"`), []byte(`"subject":"eve"`), 1), 0o600)
	if r := run(t, nil, "audit", "verify", edited); r.code != 1 || !strings.Contains(r.stderr, "line 2") || !strings.Contains(r.stderr, "edited") {
		t.Fatalf("edited entry: %d %q", r.code, r.stderr)
	}
	removed := filepath.Join(dir, "removed.jsonl")
	os.WriteFile(removed, bytes.Join([][]byte{lines[0], lines[1], lines[3]}, nil), 0o600)
	if r := run(t, nil, "audit", "verify", removed); r.code != 1 || !strings.Contains(r.stderr, "line 3") || !strings.Contains(r.stderr, "removed") {
		t.Fatalf("removed entry: %d %q", r.code, r.stderr)
	}
}
