package cli

import (
	"runtime/debug"
	"strings"
	"testing"
)

// A `go build` in a git checkout stamps the commit and its time into the
// binary; `cdp version` shows them without any -ldflags.
func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-03T17:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}}
	v := versionFrom(bi)
	if v.Commit != "0123456789abcdef0123456789abcdef01234567" || v.Date != "2026-12-03T17:00:00Z" || !v.Modified || v.Version != "dev" {
		t.Fatalf("from the VCS stamp: %+v", v)
	}
	if s := v.String(); !strings.Contains(s, "0123456789ab+modified") {
		t.Fatalf("String() = %q", s)
	}
	// `go install ...@v1.2.0` records the module version instead.
	v = versionFrom(&debug.BuildInfo{Main: debug.Module{Version: "v1.2.0"}})
	if v.Version != "v1.2.0" || v.Commit != "" {
		t.Fatalf("from the module version: %+v", v)
	}
	if v := versionFrom(nil); v.Version != "dev" {
		t.Fatalf("no build info: %+v", v)
	}
}
