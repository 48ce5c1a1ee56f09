package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/host/audit"
	"github.com/collision-detection-platform/distributed-platform/host/config"
)

// newAuditCmd: cdp audit verify [FILE]
func newAuditCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the audit log",
		Long: `cdp records every admin call, every refused authentication and every
configuration load in a hash-chained audit log (audit.jsonl in
system.data_dir; the process log without one). Admins read it over the API
(GET /system/audit); 'cdp audit verify' checks that no entry was edited or
removed.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newAuditVerifyCmd(a))
	return cmd
}

func newAuditVerifyCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "verify [FILE]",
		Short: "Verify the hash chain of an audit log",
		Long: `Read an audit log (JSON lines, one entry each, hash-chained) and check every
entry against the one before it. Prints the number of entries and the last
hash and exits 0, or names the first line where an entry was edited,
removed, inserted or reordered and exits 1.

FILE defaults to audit.jsonl in the configuration's system.data_dir. Keep the
last hash somewhere else too: a chain detects edits, not a rewrite of the
whole file.`,
		Example: `  cdp audit verify /var/lib/cdp/audit.jsonl
  cdp audit verify --config /etc/cdp.yaml`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := ""
			if len(args) == 1 {
				path = args[0]
			} else {
				src, err := a.configSources(cmd, "", nil, nil)
				if err != nil {
					return err
				}
				cfg, err := config.Load(src)
				if err != nil {
					return err
				}
				if cfg.System.DataDir == "" {
					return usagef(cmd, "no FILE and no system.data_dir: name the audit log file")
				}
				path = filepath.Join(cfg.System.DataDir, audit.FileName)
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			n, last, err := audit.Verify(f)
			if err != nil {
				var ve *audit.VerifyError
				if errors.As(err, &ve) {
					fmt.Fprintf(cmd.ErrOrStderr(), "%s: %v (%d entries before it verified)\n", path, err, n-1)
					return reportedError{err}
				}
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s: %d entries, chain intact, last hash %s\n", path, n, last)
			return nil
		},
	}
}
