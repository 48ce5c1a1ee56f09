-- Plugins and their activations, system events and the audit log.

-- +goose Up
CREATE TABLE plugins (
	id          text PRIMARY KEY,          -- sha256 of the module
	name        text        NOT NULL,
	version     text        NOT NULL,
	kind        text        NOT NULL,
	state       text        NOT NULL,
	uploaded_at timestamptz NOT NULL,
	record      jsonb       NOT NULL       -- the registry's whole record
);
CREATE TABLE plugin_activations (
	time    timestamptz NOT NULL,
	kind    text        NOT NULL,
	from_id text        NOT NULL,
	to_id   text        NOT NULL,
	reason  text        NOT NULL,
	detail  jsonb       NOT NULL DEFAULT '{}',
	PRIMARY KEY (time, kind, to_id)
);
CREATE TABLE system_events (
	id     bigserial   PRIMARY KEY,
	time   timestamptz NOT NULL,
	node   text        NOT NULL,
	type   text        NOT NULL,
	detail jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX system_events_time ON system_events (time);
CREATE TABLE audit_log (
	id     bigserial   PRIMARY KEY,
	time   timestamptz NOT NULL,
	actor  text        NOT NULL,
	action text        NOT NULL,
	target text        NOT NULL DEFAULT '',
	detail jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time ON audit_log (time);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE system_events;
DROP TABLE plugin_activations;
DROP TABLE plugins;
