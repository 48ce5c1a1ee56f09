package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/collision-detection-platform/distributed-platform/store/postgres"
)

// dbFlagKeys maps the db commands' flags to the keys they set.
var dbFlagKeys = map[string]string{"dsn": "database.postgres.dsn"}

// newDBCmd: cdp db migrate|status
func newDBCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the PostgreSQL schema",
		Long: `Manage the schema of the PostgreSQL store (database.postgres.dsn). The
migrations are embedded in this binary; 'cdp serve' applies the missing ones
at start, these commands do it (or show it) without starting a server.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newDBMigrateCmd(a), newDBStatusCmd(a), newDBBackupCmd(a), newDBRestoreCmd(a))
	return cmd
}

// dbPool loads the configuration and connects to its PostgreSQL.
func (a *app) dbPool(cmd *cobra.Command, timeout time.Duration) (context.Context, context.CancelFunc, func(), *pgxpool.Pool, error) {
	cfg, _, err := a.loadConfig(cmd, dbFlagKeys, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if cfg.Database.Postgres.DSN == "" {
		return nil, nil, nil, nil, usagef(cmd, "no database: set database.postgres.dsn (CDP_DATABASE_POSTGRES_DSN, the file, or --dsn)")
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	pool, err := postgres.Connect(ctx, cfg.Database.Postgres.DSN, 2)
	if err != nil {
		cancel()
		return nil, nil, nil, nil, fmt.Errorf("database.postgres.dsn: %w", err)
	}
	return ctx, cancel, pool.Close, pool, nil
}

// newDBMigrateCmd: cdp db migrate [--to N] [--dsn DSN]
func newDBMigrateCmd(a *app) *cobra.Command {
	var to int64
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply the schema migrations the database lacks",
		Long: `Apply, in order and each in its own transaction, the embedded migrations
that the database of database.postgres.dsn lacks (up to --to when given), and
print each version applied. Applying again does nothing.`,
		Example: `  CDP_DATABASE_POSTGRES_DSN=postgres://cdp@db:5432/cdp cdp db migrate
  cdp db migrate --dsn postgres://cdp@db:5432/cdp --to 1`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel, closePool, pool, err := a.dbPool(cmd, timeout)
			if err != nil {
				return err
			}
			defer cancel()
			defer closePool()
			applied, err := postgres.Migrate(ctx, pool, to)
			for _, v := range applied {
				fmt.Fprintf(cmd.OutOrStdout(), "applied %05d\n", v)
			}
			if err != nil {
				return err
			}
			if len(applied) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "up to date")
			}
			return nil
		},
	}
	cmd.Flags().Int64Var(&to, "to", 0, "migrate up to `version` (default: the latest)")
	cmd.Flags().String("dsn", "", "PostgreSQL connection `string` (database.postgres.dsn)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "give up after `duration`")
	return cmd
}

// newDBStatusCmd: cdp db status [--dsn DSN]
func newDBStatusCmd(a *app) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which schema migrations the database has",
		Long: `List every migration embedded in this binary and whether the database of
database.postgres.dsn has it (with when it was applied). Exits 1 when some
are pending.`,
		Example: `  CDP_DATABASE_POSTGRES_DSN=postgres://cdp@db:5432/cdp cdp db status`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel, closePool, pool, err := a.dbPool(cmd, timeout)
			if err != nil {
				return err
			}
			defer cancel()
			defer closePool()
			st, err := postgres.Status(ctx, pool)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "VERSION\tNAME\tAPPLIED")
			pending := 0
			for _, m := range st {
				at := m.AppliedAt
				if !m.Applied {
					at, pending = "pending", pending+1
				}
				fmt.Fprintf(w, "%05d\t%s\t%s\n", m.Version, m.Name, at)
			}
			w.Flush()
			if pending > 0 {
				err := fmt.Errorf("%d migration(s) pending: run cdp db migrate", pending)
				fmt.Fprintln(cmd.ErrOrStderr(), "cdp db status:", err)
				return reportedError{err}
			}
			return nil
		},
	}
	cmd.Flags().String("dsn", "", "PostgreSQL connection `string` (database.postgres.dsn)")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "give up after `duration`")
	return cmd
}
