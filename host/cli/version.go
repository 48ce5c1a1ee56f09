package cli

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/abi"
)

// Set at link time, e.g.
//
//	go build -ldflags "-X github.com/collision-detection-platform/distributed-platform/host/cli.version=v1.2.0
//	  -X github.com/collision-detection-platform/distributed-platform/host/cli.commit=$(git rev-parse HEAD)
//	  -X github.com/collision-detection-platform/distributed-platform/host/cli.date=$(date -u +%FT%TZ)"
//
// When empty, BuildVersion falls back to the build information the Go
// toolchain embeds (module version, VCS revision and time).
var (
	version string
	commit  string
	date    string
)

// VersionInfo describes the running binary.
type VersionInfo struct {
	// Version is the release ("v1.2.0"), the module version, or "dev".
	Version string `json:"version"`
	// Commit is the VCS revision it was built from; "" when unknown.
	Commit string `json:"commit,omitempty"`
	// Modified is true when the working tree had uncommitted changes.
	Modified bool `json:"modified,omitempty"`
	// Date is the build or commit time (RFC 3339); "" when unknown.
	Date string `json:"date,omitempty"`
	// GoVersion is the Go toolchain, e.g. "go1.26.8".
	GoVersion string `json:"go"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
	// ABIMajor and ABIMinor are the plugin ABI this host speaks: plugins of
	// the same major version load.
	ABIMajor int `json:"abi_major"`
	ABIMinor int `json:"abi_minor"`
}

// BuildVersion returns the version information of this binary: link-time
// values first, then the Go build information.
func BuildVersion() VersionInfo {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(bi)
}

// versionFrom fills the version from the link-time values, then from bi
// (nil when the binary carries none): the module version that `go install
// ...@v1.2.0` records, and the VCS stamp (vcs.revision, vcs.time,
// vcs.modified) that `go build` records in a git checkout unless
// -buildvcs=false.
func versionFrom(bi *debug.BuildInfo) VersionInfo {
	v := VersionInfo{
		Version:   version,
		Commit:    commit,
		Date:      date,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		ABIMajor:  abi.VersionMajor,
		ABIMinor:  abi.VersionMinor,
	}
	if bi != nil {
		if v.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				v.Modified = v.Modified || s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	return v
}

// String is the one-line form: "cdp v1.2.0 (abc1234, go1.26.8 linux/amd64, ABI 1.0)".
func (v VersionInfo) String() string {
	c := v.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if c == "" {
		c = "unknown commit"
	}
	if v.Modified {
		c += "+modified"
	}
	return fmt.Sprintf("cdp %s (%s, %s %s, ABI %d.%d)", v.Version, c, v.GoVersion, v.Platform, v.ABIMajor, v.ABIMinor)
}

// newVersionCmd: cdp version [--json]
func newVersionCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, Go version and plugin ABI version",
		Long: `Print the cdp version, the commit it was built from, the Go toolchain and
the plugin ABI version this binary speaks (plugins built for the same major
ABI version load).`,
		Example: `  cdp version
  cdp version --json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := a.version
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			commit := v.Commit
			if commit == "" {
				commit = "unknown"
			}
			if v.Modified {
				commit += " (modified)"
			}
			built := v.Date
			if built == "" {
				built = "unknown"
			}
			fmt.Fprintf(w, "cdp %s\n", v.Version)
			fmt.Fprintf(w, "  commit:  %s\n", commit)
			fmt.Fprintf(w, "  date:    %s\n", built)
			fmt.Fprintf(w, "  go:      %s %s\n", v.GoVersion, v.Platform)
			fmt.Fprintf(w, "  abi:     %d.%d (loads plugins built for ABI %d.x)\n", v.ABIMajor, v.ABIMinor, v.ABIMajor)
			return nil
		},
	}
	boolSwitch(cmd.Flags(), &asJSON, "json", "", "print JSON")
	return cmd
}
