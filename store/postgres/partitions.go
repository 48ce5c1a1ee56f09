package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// execer is a pool, a connection or a transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// partitioned are the tables partitioned by data time.
var partitioned = []string{"risk_events", "vehicle_locations"}

// partitionName is the native partition of table for the UTC day of d.
func partitionName(table string, d time.Time) string {
	return table + "_p" + d.UTC().Format("20060102")
}

var partitionRE = regexp.MustCompile(`^(risk_events|vehicle_locations)_p(\d{8})$`)

// ensurePartitions creates the daily partitions of the given days that are
// not known to exist (native partitioning only).
func (s *Store) ensurePartitions(ctx context.Context, pool execer, days []time.Time) error {
	for _, d := range days {
		d = d.UTC().Truncate(24 * time.Hour)
		for _, table := range partitioned {
			name := partitionName(table, d)
			s.mu.Lock()
			known := s.parts[name]
			s.mu.Unlock()
			if known {
				continue
			}
			sql := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')`,
				name, table, d.Format(time.RFC3339), d.Add(24*time.Hour).Format(time.RFC3339))
			if _, err := pool.Exec(ctx, sql); err != nil {
				// Two writers creating the same partition race on the
				// catalog; the loser finds it there on a retry.
				if !strings.Contains(err.Error(), "already exists") {
					return fmt.Errorf("create partition %s: %w", name, err)
				}
			}
			s.mu.Lock()
			s.parts[name] = true
			s.mu.Unlock()
		}
	}
	return nil
}

// Partitions lists the native daily partitions of table, oldest first.
func (s *Store) Partitions(ctx context.Context, table string) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
		WHERE p.relname = $1 ORDER BY c.relname`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Prune applies retention: the data older than cutoff goes. With native
// partitions, every daily partition that ends at or before cutoff is
// dropped (whole days: a partition holding anything newer stays); with
// TimescaleDB, drop_chunks does the same per chunk. Episodes last seen
// before cutoff are deleted. It returns the partitions (or chunks) dropped.
func (s *Store) Prune(ctx context.Context, cutoff time.Time) (int, error) {
	dropped := 0
	if s.ts {
		for _, table := range partitioned {
			var n int
			if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM drop_chunks($1::regclass, older_than => $2::timestamptz)`,
				table, cutoff).Scan(&n); err != nil {
				return dropped, fmt.Errorf("postgres: retention: %w", err)
			}
			dropped += n
		}
	} else {
		for _, table := range partitioned {
			parts, err := s.Partitions(ctx, table)
			if err != nil {
				return dropped, fmt.Errorf("postgres: retention: %w", err)
			}
			for _, name := range parts {
				m := partitionRE.FindStringSubmatch(name)
				if m == nil {
					continue
				}
				day, err := time.Parse("20060102", m[2])
				if err != nil || day.Add(24*time.Hour).After(cutoff) {
					continue
				}
				if _, err := s.pool.Exec(ctx, `DROP TABLE IF EXISTS `+name); err != nil {
					return dropped, fmt.Errorf("postgres: retention: drop %s: %w", name, err)
				}
				s.mu.Lock()
				delete(s.parts, name)
				s.mu.Unlock()
				dropped++
			}
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM risk_episodes WHERE last_time < $1`, float64(cutoff.UnixNano())/1e9); err != nil {
		return dropped, fmt.Errorf("postgres: retention: episodes: %w", err)
	}
	return dropped, nil
}
