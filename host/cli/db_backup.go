package cli

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/store/embedded"
	"github.com/collision-detection-platform/distributed-platform/store/postgres"
)

// backupFormat is the version of the backup file layout: a gzip stream of
// one JSON header line, then the store's payload.
const backupFormat = 1

// backupHeader is the first line of a backup.
type backupHeader struct {
	Format  string `json:"format"`  // "cdp-backup"
	Version int    `json:"version"` // backupFormat
	Store   string `json:"store"`   // "postgres" or "embedded"
	Created string `json:"created"` // RFC 3339
	// Schema is the PostgreSQL migration version, or the embedded store's
	// FormatVersion.
	Schema int64 `json:"schema"`
}

// historyPath is the embedded store's file under system.data_dir.
func historyPath(dataDir string) string { return filepath.Join(dataDir, "history.db") }

// newDBBackupCmd: cdp db backup FILE
func newDBBackupCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Write a consistent, compressed snapshot of the store to FILE",
		Long: `Write a consistent snapshot of the store to FILE (gzip, with a format
version): PostgreSQL when database.postgres.dsn is set (one REPEATABLE READ
snapshot of every table; the server keeps writing meanwhile), otherwise the
embedded store under system.data_dir (stop cdp serve first: it holds the file).`,
		Example: `  CDP_DATABASE_POSTGRES_DSN=postgres://cdp@db/cdp cdp db backup cdp-$(date +%F).backup
  cdp db backup --set system.data_dir=/var/lib/cdp history.backup`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := a.loadConfig(cmd, dbFlagKeys, nil)
			if err != nil {
				return err
			}
			h := backupHeader{Format: "cdp-backup", Version: backupFormat, Created: time.Now().UTC().Format(time.RFC3339)}
			switch {
			case cfg.Database.Postgres.DSN != "":
				h.Store, h.Schema = "postgres", postgres.LatestVersion()
			case cfg.System.DataDir != "":
				h.Store, h.Schema = "embedded", embedded.FormatVersion
			default:
				return usagef(cmd, "nothing to back up: set database.postgres.dsn or system.data_dir")
			}
			f, err := os.OpenFile(args[0], os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			ok := false
			defer func() {
				if !ok {
					f.Close()
					os.Remove(args[0])
				}
			}()
			zw := gzip.NewWriter(f)
			hb, _ := json.Marshal(h)
			zw.Write(append(hb, '\n'))
			var what string
			if h.Store == "postgres" {
				ctx, cancel, closePool, pool, err := a.dbPool(cmd, timeout)
				if err != nil {
					return err
				}
				defer cancel()
				defer closePool()
				rows, err := postgres.Backup(ctx, pool, zw)
				if err != nil {
					return err
				}
				what = fmt.Sprintf("%d rows", rows)
			} else {
				n, err := embedded.BackupFile(historyPath(cfg.System.DataDir), zw)
				if err != nil {
					return err
				}
				what = fmt.Sprintf("%d bytes of %s", n, historyPath(cfg.System.DataDir))
			}
			if err := zw.Close(); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			ok = true
			fmt.Fprintf(cmd.OutOrStdout(), "backed up %s (%s) to %s\n", h.Store, what, args[0])
			return nil
		},
	}
	cmd.Flags().String("dsn", "", "PostgreSQL connection `string` (database.postgres.dsn)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "give up after `duration`")
	return cmd
}

// newDBRestoreCmd: cdp db restore FILE
func newDBRestoreCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "Restore a backup into an empty store",
		Long: `Restore FILE (written by cdp db backup) into the store of the configuration:
PostgreSQL (database.postgres.dsn; the schema is migrated first, rows already
there are kept) or the embedded store under system.data_dir (which must not
have a history.db yet). The backup's store kind and format version are
checked first.`,
		Example: `  CDP_DATABASE_POSTGRES_DSN=postgres://cdp@db/cdp_new cdp db restore cdp.backup`,
		Args:    usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, _, err := a.loadConfig(cmd, dbFlagKeys, nil)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			zr, err := gzip.NewReader(f)
			if err != nil {
				return fmt.Errorf("%s: not a cdp backup: %w", args[0], err)
			}
			br := bufio.NewReader(zr)
			line, err := br.ReadBytes('\n')
			var h backupHeader
			if err != nil || json.Unmarshal(line, &h) != nil || h.Format != "cdp-backup" {
				return fmt.Errorf("%s: not a cdp backup", args[0])
			}
			if h.Version != backupFormat {
				return fmt.Errorf("%s: backup format %d, this build reads %d", args[0], h.Version, backupFormat)
			}
			switch {
			case h.Store == "postgres" && cfg.Database.Postgres.DSN != "":
				if h.Schema > postgres.LatestVersion() {
					return fmt.Errorf("%s: schema version %d is newer than this build's %d", args[0], h.Schema, postgres.LatestVersion())
				}
				ctx, cancel, closePool, _, err := a.dbPool(cmd, timeout)
				if err != nil {
					return err
				}
				closePool()
				defer cancel()
				st, err := postgres.Open(ctx, postgres.Config{DSN: cfg.Database.Postgres.DSN, MaxConns: 4})
				if err != nil {
					return err
				}
				defer st.Close(ctx)
				rows, err := st.Restore(ctx, br)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored %d rows from %s\n", rows, args[0])
			case h.Store == "embedded" && cfg.System.DataDir != "" && cfg.Database.Postgres.DSN == "":
				if err := os.MkdirAll(cfg.System.DataDir, 0o750); err != nil {
					return err
				}
				if err := embedded.RestoreFile(historyPath(cfg.System.DataDir), io.Reader(br)); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "restored %s from %s\n", historyPath(cfg.System.DataDir), args[0])
			default:
				return usagef(cmd, "%s holds a %s backup: configure that store (database.postgres.dsn or system.data_dir)", args[0], h.Store)
			}
			return nil
		},
	}
	cmd.Flags().String("dsn", "", "PostgreSQL connection `string` (database.postgres.dsn)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Hour, "give up after `duration`")
	return cmd
}
