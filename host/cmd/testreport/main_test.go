package main

import (
	"bytes"
	"strings"
	"testing"
)

// A recorded `go test -json` stream: the plain output comes out, passing
// tests stay quiet, the failed test's log is shown and the skip is listed
// with its reason.
func TestReport(t *testing.T) {
	in := `{"Action":"start","Package":"p"}
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"run","Package":"p","Test":"TestB"}
{"Action":"output","Package":"p","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"output","Package":"p","Test":"TestB","Output":"    b_test.go:9: needs clang: not on PATH\n"}
{"Action":"output","Package":"p","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}
{"Action":"skip","Package":"p","Test":"TestB"}
{"Action":"run","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Test":"TestC","Output":"    c_test.go:3: got 2, want 3\n"}
{"Action":"output","Package":"p","Test":"TestC","Output":"--- FAIL: TestC (0.00s)\n"}
{"Action":"fail","Package":"p","Test":"TestC"}
{"Action":"output","Package":"p","Output":"FAIL\n"}
{"Action":"output","Package":"p","Output":"FAIL\tp\t0.01s\n"}
{"Action":"fail","Package":"p"}
{"Action":"output","Package":"q","Output":"ok  \tq\t0.02s\n"}
{"Action":"pass","Package":"q"}
{"Action":"output","Package":"r","Output":"?   \tr\t[no test files]\n"}
{"Action":"skip","Package":"r"}
`
	var out bytes.Buffer
	r := newReport(&out)
	r.read(strings.NewReader(in))
	r.summary()
	got := out.String()
	for _, want := range []string{"c_test.go:3: got 2, want 3", "--- FAIL: TestC", "FAIL\tp\t0.01s\n", "ok  \tq\t0.02s\n",
		"skipped: 1 tests\n  SKIP p TestB: needs clang: not on PATH\n",
		"?   \tr\t[no test files]\n", "tests: 1 passed, 1 failed, 1 skipped\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	for _, quiet := range []string{"TestA", "=== RUN", "SKIP r"} {
		if strings.Contains(got, quiet) {
			t.Errorf("output shows %q:\n%s", quiet, got)
		}
	}
	if !r.failed {
		t.Error("a failed test did not mark the run failed")
	}
}
