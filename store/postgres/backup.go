package postgres

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// backupTables are the tables a backup holds, in restore order.
var backupTables = []string{"risk_events", "risk_episodes", "vehicle_locations", "plugins", "plugin_activations", "system_events", "audit_log"}

// Backup writes every table of the schema to w, from one REPEATABLE READ
// snapshot (writers go on meanwhile): for each table a line "table NAME\n"
// and its COPY text in length-prefixed chunks (uint32 big-endian), a zero
// length ending the table. The caller frames and compresses the stream.
func Backup(ctx context.Context, pool *pgxpool.Pool, w io.Writer) (rows int64, err error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("postgres: backup: %w", err)
	}
	defer tx.Rollback(ctx)
	for _, table := range backupTables {
		if _, err := fmt.Fprintf(w, "table %s\n", table); err != nil {
			return rows, err
		}
		cw := &chunkWriter{w: w}
		tag, err := tx.Conn().PgConn().CopyTo(ctx, cw, "COPY (SELECT * FROM "+table+") TO STDOUT")
		if err != nil {
			return rows, fmt.Errorf("postgres: backup %s: %w", table, err)
		}
		if err := cw.end(); err != nil {
			return rows, err
		}
		rows += tag.RowsAffected()
	}
	return rows, nil
}

type chunkWriter struct{ w io.Writer }

func (c *chunkWriter) Write(p []byte) (int, error) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(p)))
	if _, err := c.w.Write(n[:]); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func (c *chunkWriter) end() error { _, err := c.w.Write([]byte{0, 0, 0, 0}); return err }

// chunkReader reads one table's chunks until the zero length.
type chunkReader struct {
	r    *bufio.Reader
	left uint32
	done bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		var n [4]byte
		if _, err := io.ReadFull(c.r, n[:]); err != nil {
			return 0, fmt.Errorf("truncated backup: %w", err)
		}
		if c.left = binary.BigEndian.Uint32(n[:]); c.left == 0 {
			c.done = true
		}
	}
	if uint32(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= uint32(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Restore reads a Backup stream into the database of s (migrated, normally
// empty): each table is copied into a temporary table and inserted with ON
// CONFLICT DO NOTHING, after the daily partitions of its rows exist. It
// returns the rows inserted.
func (s *Store) Restore(ctx context.Context, r io.Reader) (int64, error) {
	br := bufio.NewReader(r)
	var total int64
	for {
		line, err := br.ReadString('\n')
		if errors.Is(err, io.EOF) && line == "" {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("postgres: restore: truncated backup: %w", err)
		}
		table, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "table ")
		known := false
		for _, t := range backupTables {
			known = known || t == table
		}
		if !ok || !known {
			return total, fmt.Errorf("postgres: restore: unexpected section %q", line)
		}
		n, err := s.restoreTable(ctx, table, &chunkReader{r: br})
		total += n
		if err != nil {
			return total, fmt.Errorf("postgres: restore %s: %w", table, err)
		}
	}
}

func (s *Store) restoreTable(ctx context.Context, table string, r io.Reader) (int64, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE cdp_restore (LIKE `+table+`) ON COMMIT DROP`); err != nil {
		return 0, err
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, r, "COPY cdp_restore FROM STDIN"); err != nil {
		return 0, err
	}
	if table == "risk_events" || table == "vehicle_locations" {
		if !s.ts {
			rows, err := tx.Query(ctx, `SELECT DISTINCT date_trunc('day', time AT TIME ZONE 'UTC') FROM cdp_restore`)
			if err != nil {
				return 0, err
			}
			var days []time.Time
			for rows.Next() {
				var d time.Time
				if err := rows.Scan(&d); err != nil {
					rows.Close()
					return 0, err
				}
				days = append(days, d)
			}
			rows.Close()
			// In this transaction: it holds a lock on the parent table (the
			// temporary table's LIKE) that DDL elsewhere would wait for.
			if err := s.ensurePartitions(ctx, tx, days); err != nil {
				return 0, err
			}
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+table+` SELECT * FROM cdp_restore ON CONFLICT DO NOTHING`)
	if err != nil {
		return 0, err
	}
	if table == "system_events" || table == "audit_log" {
		if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), coalesce(max(id), 0) + 1, false) FROM `+table); err != nil {
			return 0, err
		}
	}
	return tag.RowsAffected(), tx.Commit(ctx)
}
