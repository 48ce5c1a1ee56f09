package host_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildCDP builds the cdp binary once per test binary run.
var buildCDP = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "cdp-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "cdp")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/collision-detection-platform/distributed-platform/host/cmd/cdp").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// cdpProc is a running `cdp serve`.
type cdpProc struct {
	cmd  *exec.Cmd
	base string
	errs *strings.Builder
	done chan struct{}
}

var servingRE = regexp.MustCompile(`serving on (http://\S+)`)

func startCDP(t *testing.T, args ...string) *cdpProc {
	t.Helper()
	bin, err := buildCDP()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"serve", "--port", "0", "--host", "127.0.0.1"}, args...)...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &cdpProc{cmd: cmd, errs: &strings.Builder{}, done: make(chan struct{})}
	found := make(chan string, 1)
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			p.errs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	select {
	case p.base = <-found:
	case <-p.done:
		t.Fatalf("cdp serve exited: %s", p.errs)
	case <-time.After(30 * time.Second):
		t.Fatalf("cdp serve did not start: %s", p.errs)
	}
	return p
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

type streamed struct {
	ID      string  `json:"id"`
	Type    string  `json:"type"`
	RiskID  string  `json:"risk_id"`
	Risk    float64 `json:"risk"`
	Time    float64 `json:"time"`
	Emitted float64 `json:"emitted"`
}

// history reads every stored event, page by page.
func history(t *testing.T, base string) map[string]streamed {
	out := map[string]streamed{}
	cursor := ""
	for {
		var page struct {
			Events []streamed `json:"events"`
			Next   string     `json:"next_cursor"`
		}
		getJSON(t, base+"/api/v1/risks/history?limit=10000&cursor="+cursor, &page)
		for _, e := range page.Events {
			if _, dup := out[e.ID]; dup {
				t.Fatalf("history returns %s twice", e.ID)
			}
			out[e.ID] = e
		}
		if page.Next == "" {
			return out
		}
		cursor = page.Next
	}
}

func openRiskIDs(t *testing.T, base string) []string {
	var risks struct {
		Risks []struct {
			ID string `json:"id"`
		} `json:"risks"`
	}
	getJSON(t, base+"/api/v1/risks?limit=10000", &risks)
	var ids []string
	for _, r := range risks.Risks {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}

// TestKill9KeepsHistory runs the real binary with a data directory and
// simulated traffic, records the live stream, kills the process with
// SIGKILL mid-stream and restarts it on the same directory: every event
// emitted before the documented loss window (200 ms of flush; a second of
// margin here) is in the history, under the same id and with the same
// content. A clean stop then keeps the open risks and vehicles as they were.
func TestKill9KeepsHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the cdp binary")
	}
	dir := t.TempDir()
	p := startCDP(t, "--data-dir", dir, "--simulate", "400", "--set", "database.snapshot_interval=1s")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/risks/stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []streamed
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e streamed
				if json.Unmarshal([]byte(d), &e) == nil && e.ID != "" {
					mu.Lock()
					seen = append(seen, e)
					mu.Unlock()
				}
			}
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events streamed in 30 s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // a snapshot of the state is saved meanwhile
	killed := float64(time.Now().UnixNano()) / 1e9
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.done
	cancel()
	mu.Lock()
	before := append([]streamed(nil), seen...)
	mu.Unlock()

	// Restart without traffic: the history is what the first run stored.
	p2 := startCDP(t, "--data-dir", dir)
	got := history(t, p2.base)
	checked := 0
	for _, e := range before {
		if e.Emitted > killed-1 {
			continue
		}
		checked++
		g, ok := got[e.ID]
		if !ok {
			t.Fatalf("event %s (emitted %.3f s before the kill) lost", e.ID, killed-e.Emitted)
		}
		if g != e {
			t.Fatalf("event %s changed: %+v, streamed %+v", e.ID, g, e)
		}
	}
	t.Logf("%d events streamed, %d emitted before the window checked, %d in the history after restart", len(before), checked, len(got))
	if checked < 100 {
		t.Fatalf("only %d events to check", checked)
	}
	// The engine state of the last snapshot (at most 1 s old) is back.
	var vs struct {
		Vehicles []struct {
			ID string `json:"id"`
		} `json:"vehicles"`
	}
	getJSON(t, p2.base+"/api/v1/vehicles?limit=10000", &vs)
	if len(vs.Vehicles) < 300 {
		t.Fatalf("%d vehicles after the kill -9, want the ~400 of the last snapshot", len(vs.Vehicles))
	}
	// Their tracks were stored too.
	var track struct {
		Points []struct {
			T float64 `json:"t"`
		} `json:"points"`
	}
	getJSON(t, p2.base+"/api/v1/vehicles/"+vs.Vehicles[0].ID+"/track", &track)
	if len(track.Points) == 0 {
		t.Fatalf("no track stored for %s", vs.Vehicles[0].ID)
	}

	// A clean stop keeps the open risks exactly.
	open := openRiskIDs(t, p2.base)
	if len(open) == 0 {
		t.Fatal("no open risk restored")
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	<-p2.done
	p3 := startCDP(t, "--data-dir", dir)
	if again := openRiskIDs(t, p3.base); strings.Join(again, ",") != strings.Join(open, ",") {
		t.Fatalf("open risks after a clean stop: %d, before %d", len(again), len(open))
	}
	if h := history(t, p3.base); len(h) < len(got) {
		t.Fatalf("history shrank across a clean stop: %d, was %d", len(h), len(got))
	}
}
