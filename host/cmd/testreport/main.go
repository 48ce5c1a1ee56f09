// Command testreport runs `go test -json` with the arguments it is given and
// prints what a plain `go test` prints — one ok/FAIL line per package, the
// output of failed tests, build errors — then every skipped test with the
// reason it gave. It exits with go test's status, so `make test` fails
// exactly when go test does.
//
//	go run ./host/cmd/testreport -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

func main() {
	cmd := exec.Command("go", append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	}
	r := newReport(os.Stdout)
	r.read(out)
	err = cmd.Wait()
	r.summary()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "testreport:", err)
		os.Exit(2)
	case r.failed:
		os.Exit(1)
	}
}

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is one skipped test and why.
type skip struct {
	pkg, test, reason string
}

type report struct {
	w       io.Writer
	pending map[string][]string // output of each running test, by package + test
	skips   []skip
	failed  bool
	// passed and failedTests count top-level tests (not subtests, not
	// packages), for the closing line.
	passed, failedTests int
}

func newReport(w io.Writer) *report {
	return &report{w: w, pending: map[string][]string{}}
}

// read prints the plain go test output of the stream and collects the
// skips. A line that is not JSON (a build error go test printed) is copied.
func (r *report) read(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			fmt.Fprintf(r.w, "%s\n", line)
			continue
		}
		r.event(e)
	}
}

func (r *report) event(e event) {
	key := e.Package + " " + e.Test
	switch {
	case e.Action == "build-output":
		fmt.Fprint(r.w, e.Output)
	case e.Action == "build-fail":
		r.failed = true
	case e.Test == "" && e.Action == "output":
		// Package lines: "ok  \tpkg\t1.2s", "FAIL\tpkg", "?   \tpkg\t[no test files]",
		// and what the test binary printed outside any test (a panic, TestMain).
		if o := e.Output; o != "PASS\n" && o != "FAIL\n" && !strings.HasPrefix(o, "=== ") && !strings.HasPrefix(o, "testing: warning: no tests") {
			fmt.Fprint(r.w, o)
		}
	case e.Test == "" && e.Action == "fail":
		// A timeout or crash ends the package with tests still running:
		// show what they printed.
		r.failed = true
		for k, lines := range r.pending {
			if strings.HasPrefix(k, e.Package+" ") {
				fmt.Fprint(r.w, strings.Join(lines, ""))
				delete(r.pending, k)
			}
		}
	case e.Action == "output":
		r.pending[key] = append(r.pending[key], e.Output)
	case e.Action == "fail":
		r.failed = true
		if e.Test != "" && !strings.Contains(e.Test, "/") {
			r.failedTests++
		}
		for _, o := range r.pending[key] {
			fmt.Fprint(r.w, o)
		}
		delete(r.pending, key)
	case e.Action == "skip" && e.Test == "":
		// A package with no test files ("?  pkg [no test files]"): nothing
		// was skipped.
	case e.Action == "skip":
		r.skips = append(r.skips, skip{pkg: e.Package, test: e.Test, reason: reason(r.pending[key])})
		delete(r.pending, key)
	case e.Action == "pass":
		if e.Test != "" && !strings.Contains(e.Test, "/") {
			r.passed++
		}
		delete(r.pending, key)
	}
}

// reason is what a skipped test logged: its lines without the framing
// (=== RUN, --- SKIP) and the file:line prefix.
func reason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- ") {
			continue
		}
		if i := strings.Index(t, ".go:"); i > 0 && !strings.Contains(t[:i], " ") {
			if j := strings.Index(t[i:], ": "); j > 0 {
				t = t[i+j+2:]
			}
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

// summary lists the skipped tests, by package, then closes with a line of
// counts: "tests: N passed, N failed, N skipped" (top-level tests).
func (r *report) summary() {
	topSkips := 0
	for _, s := range r.skips {
		if !strings.Contains(s.test, "/") {
			topSkips++
		}
	}
	defer fmt.Fprintf(r.w, "tests: %d passed, %d failed, %d skipped\n", r.passed, r.failedTests, topSkips)
	if len(r.skips) == 0 {
		fmt.Fprintln(r.w, "skipped: none")
		return
	}
	sort.SliceStable(r.skips, func(i, j int) bool {
		if r.skips[i].pkg != r.skips[j].pkg {
			return r.skips[i].pkg < r.skips[j].pkg
		}
		return r.skips[i].test < r.skips[j].test
	})
	fmt.Fprintf(r.w, "skipped: %d tests\n", len(r.skips))
	for _, s := range r.skips {
		fmt.Fprintf(r.w, "  SKIP %s %s: %s\n", s.pkg, s.test, s.reason)
	}
}
