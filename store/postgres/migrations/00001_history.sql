-- Risk history and vehicle locations, partitioned by data time.
--
-- With the timescaledb extension installed the two tables are hypertables
-- (one-day chunks, compressed after 7 days); otherwise they are native
-- declarative range partitions by day, which cdp creates ahead of time and
-- drops by retention. The TimescaleDB branch is PL/pgSQL inside a DO block:
-- PostgreSQL parses the whole block when it runs, so the branch is checked
-- for syntax on every install, with or without the extension.

-- +goose Up
-- +goose StatementBegin
DO $$
DECLARE
	ts boolean := EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb');
	part text := CASE WHEN ts THEN '' ELSE ' PARTITION BY RANGE (time)' END;
BEGIN
	EXECUTE 'CREATE TABLE risk_events (
		time      timestamptz      NOT NULL,
		t         double precision NOT NULL,
		event_id  text             NOT NULL,
		risk_id   text             NOT NULL,
		seq       integer          NOT NULL,
		type      text             NOT NULL,
		vehicle_a text             NOT NULL,
		vehicle_b text             NOT NULL,
		risk      double precision NOT NULL,
		tca       double precision NOT NULL,
		dmin      double precision NOT NULL,
		t_in      double precision,
		reason    text             NOT NULL DEFAULT '''',
		opened_at double precision NOT NULL,
		model     jsonb            NOT NULL,
		emitted   double precision NOT NULL,
		UNIQUE (event_id, time)
	)' || part;
	EXECUTE 'CREATE TABLE vehicle_locations (
		time       timestamptz      NOT NULL,
		t          double precision NOT NULL,
		vehicle_id text             NOT NULL,
		x double precision NOT NULL, y double precision NOT NULL, z double precision NOT NULL,
		vx double precision NOT NULL, vy double precision NOT NULL, vz double precision NOT NULL,
		alt double precision NOT NULL,
		UNIQUE (vehicle_id, time)
	)' || part;
	IF ts THEN
		PERFORM create_hypertable('risk_events', 'time', chunk_time_interval => interval '1 day');
		PERFORM create_hypertable('vehicle_locations', 'time', chunk_time_interval => interval '1 day');
		ALTER TABLE risk_events SET (timescaledb.compress, timescaledb.compress_segmentby = 'vehicle_a');
		ALTER TABLE vehicle_locations SET (timescaledb.compress, timescaledb.compress_segmentby = 'vehicle_id');
		PERFORM add_compression_policy('risk_events', interval '7 days');
		PERFORM add_compression_policy('vehicle_locations', interval '7 days');
	END IF;
END $$;
-- +goose StatementEnd
CREATE INDEX risk_events_time ON risk_events (time, event_id);
CREATE INDEX risk_events_vehicle_a ON risk_events (vehicle_a, time);
CREATE INDEX risk_events_vehicle_b ON risk_events (vehicle_b, time);
CREATE INDEX risk_events_risk ON risk_events (risk_id, seq);

-- One row per risk episode, kept current from its events.
CREATE TABLE risk_episodes (
	risk_id     text PRIMARY KEY,
	vehicle_a   text             NOT NULL,
	vehicle_b   text             NOT NULL,
	opened_at   double precision NOT NULL,
	last_time   double precision NOT NULL,
	max_risk    double precision NOT NULL,
	last_seq    integer          NOT NULL,
	resolved    boolean          NOT NULL DEFAULT false,
	reason      text             NOT NULL DEFAULT ''
);
CREATE INDEX risk_episodes_opened ON risk_episodes (opened_at);

-- +goose Down
DROP TABLE risk_episodes;
DROP TABLE vehicle_locations;
DROP TABLE risk_events;
